/**
 * The PyTorch side of bench/side_by_side.ts computes what ours computes: the TeD-Loc train step
 * (losses, gradients, one Adam update) on the same seeded inputs, and MobileNet v1 0.75 →
 * conv_pw_11 on the same real CUB pixels. Skips (with the reason) without a Python that imports
 * torch, numpy and cv2 (`bench/torch/setup.sh` makes `.venv-torch/`; or set
 * `TEDLOC_TORCH_PYTHON`), and the MobileNet part without the shared data.
 */
import { assert } from "../assert.ts";
import { join } from "node:path";
import { findPython } from "../../bench/side_by_side.ts";
import { projectPath, sharedDataPath } from "../../lib/util/paths.ts";

async function run(cmd: string, args: string[]): Promise<Record<string, unknown>> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(o.stdout).trim();
  if (!o.success) {
    throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(o.stderr).slice(-800)}`);
  }
  return JSON.parse(text.split("\n").pop()!);
}

const OURS = projectPath("bench", "side_by_side_ours.ts");

Deno.test("PyTorch side by side: same train step and same MobileNet as ours", async (t) => {
  const py = await findPython();
  if ("why" in py) {
    await t.step({ name: `skipped: ${py.why} (bench/torch/setup.sh)`, ignore: true, fn: () => {} });
    return;
  }
  const tmp = await Deno.makeTempDir({ prefix: "torch_parity-" });
  try {
    await t.step("TeD-Loc step: losses, gradients and Adam update agree", async () => {
      await run(Deno.execPath(), ["run", "-A", OURS, "--mode", "stepdump", "--out", tmp]);
      const r = await run(py.python, [projectPath("bench", "torch", "check_step.py"), tmp]);
      // float32 on both sides, different summation orders: measured 3e-7, 4e-6, 1.5e-6
      assert((r.maxLossRelDiff as number) < 1e-5, `losses differ: ${JSON.stringify(r)}`);
      assert((r.maxGradDiffOverMaxGrad as number) < 1e-4, `gradients differ: ${JSON.stringify(r)}`);
      assert((r.maxWeightDiffAfterAdam as number) < 2e-5, `Adam differs: ${JSON.stringify(r)}`);
    });
    const model = sharedDataPath("mobilenet", "mobilenet_v1_0.75_224");
    if (model === null || sharedDataPath("cub50", "CUB_200_2011") === null) {
      await t.step({
        name: "skipped: ../shared/data MobileNet 0.75 or CUB-50 absent (set TEDLOC_SHARED_DATA)",
        ignore: true,
        fn: () => {},
      });
      return;
    }
    await t.step("MobileNet 0.75 → pw11 on 2 CUB test images agrees", async () => {
      const dir = join(tmp, "pw11");
      await run(Deno.execPath(), ["run", "-A", OURS, "--mode", "dump", "--out", dir, "--n", "2"]);
      const r = await run(py.python, [projectPath("bench", "torch", "check_pw11.py"), dir, model]);
      // activations reach 6 (ReLU6); measured max |Δ| 8.4e-5 on 4 images
      assert((r.maxAbsDiff as number) < 1e-3, `pw11 differs: ${JSON.stringify(r)}`);
      assert((r.maxActivation as number) > 1, "the activations are not trivial");
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
