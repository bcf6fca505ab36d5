/**
 * The webgpu backend against wasm, on whatever WebGPU adapter the machine has — in CI the
 * software one (Mesa lavapipe, Debian package `mesa-vulkan-drivers`; docs/webgpu.md). tfjs
 * holds one backend per process, so the webgpu side runs in a subprocess
 * (webgpu_cases.ts, webgpu_train.ts) and its JSON is compared here with wasm.
 *
 * Tolerances (float32, unit roundoff u = 6e-8). Both backends compute in float32 but sum in
 * different orders (tiled GPU reductions vs XNNPACK) and use different exp/tanh/sqrt
 * approximations, so results differ by a few u per operation, growing with reduction length
 * and depth. Measured on llvmpipe: single products and the TeD-Loc head ≤ 1.5e-5 relative to
 * the output's scale, MobileNet tokens (12 conv layers) ≤ 6e-6, score maps after a whole
 * ci training run ≤ 4e-6. Allowed: |Δ| ≤ rtol · max(1, max|wasm|) with rtol 2e-5 for ops
 * and heads, 2e-4 for whole networks, 1e-4 for trained score maps — 10–50× the measured
 * error, and far below a real bug (a wrong transpose or a stale buffer is off by O(1)).
 * Discrete outputs (top classes) must match exactly; boxes within 1 px; box metrics within
 * one test image (100/64 points: a map value within 1e-5 of a τ step may round either way).
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { readNpy } from "../../lib/io/npy.ts";
import { type CaseResults, type GuardResults, runCases } from "./webgpu_cases.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const DENO = Deno.execPath();

interface Adapter {
  kind: string;
  description: string;
}

/**
 * lavapipe's Wayland probe prints "XDG_RUNTIME_DIR is invalid" without one: subprocesses get a
 * private folder (made once, removed at exit).
 */
const runtimeDir = Deno.makeTempDir({ prefix: "tedloc-xdg-" }).then((d) => {
  globalThis.addEventListener("unload", () => Deno.removeSync(d, { recursive: true }));
  return d;
});

/** Run a Deno script of this repository in a subprocess; throws with its stderr on failure. */
async function denoRun(args: string[], env: Record<string, string>): Promise<void> {
  const xdg = Deno.env.get("XDG_RUNTIME_DIR") ?? await runtimeDir;
  const out = await new Deno.Command(DENO, {
    // Type checking is the test run's and CI's `deno check` job; a subprocess skips it.
    args: ["run", "-A", "--no-check", ...args],
    cwd: ROOT,
    env: { ...env, XDG_RUNTIME_DIR: xdg, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).split("\n").slice(-25).join("\n");
    throw new Error(`deno run ${args.join(" ")} failed (exit ${out.code}):\n${err}`);
  }
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** rtol by case-name prefix (see the module comment). */
function rtolOf(name: string): number {
  return name.startsWith("cnn.") ? 2e-4 : 2e-5;
}

/** Compare webgpu's cases with wasm's; returns one line per group of the worst error. */
function compareCases(gpu: CaseResults, cpu: CaseResults): string[] {
  const worst = new Map<string, number>();
  for (const [name, want] of Object.entries(cpu)) {
    if (name.startsWith("ms.")) continue;
    const got = gpu[name];
    assert(got !== undefined, `webgpu result lacks case '${name}'`);
    assertEquals(got.length, want.length, `${name}: length`);
    if (name === "cnn.cam.topClasses" || name === "localize.topk") {
      assertEquals(got, want, `${name}: discrete outputs differ`);
      continue;
    }
    const d = maxAbsDiff(got, want);
    const limit = name === "localize.box" ? 1 : rtolOf(name) * Math.max(1, maxAbs(want));
    assert(d <= limit, `${name}: webgpu differs from wasm by ${d.toExponential(2)} > ${limit}`);
    const group = name.split(".")[0];
    const rel = name === "localize.box" ? d : d / Math.max(1, maxAbs(want));
    worst.set(group, Math.max(worst.get(group) ?? 0, rel));
  }
  return [...worst].map(([g, r]) => `${g}: max |Δ| ${r.toExponential(1)} (relative)`);
}

/** webgpu_cases.ts run on webgpu in a subprocess. */
async function webgpuCases(): Promise<
  { adapter: Adapter | null; cases?: CaseResults; guards?: GuardResults }
> {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-webgpu-" });
  try {
    const file = join(dir, "cases.json");
    await denoRun([join(HERE, "webgpu_cases.ts"), "--backend", "webgpu", "--out", file], {});
    return JSON.parse(await Deno.readTextFile(file));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("webgpu vs wasm: matMul + gradient, MobileNet, ViT, TeD-Loc step, localize; sync-read guard, backend switch", async (t) => {
  const gpu = await webgpuCases();
  const reason = "no WebGPU adapter on this machine (for the software one: apt-get install " +
    "mesa-vulkan-drivers; docs/webgpu.md)";
  await t.step({
    name: gpu.adapter
      ? `on the ${gpu.adapter.kind} adapter '${gpu.adapter.description}'`
      : `skipped: ${reason}`,
    ignore: gpu.adapter === null,
    fn: async () => {
      if (/llvmpipe|lavapipe|swiftshader/i.test(gpu.adapter!.description)) {
        assertEquals(gpu.adapter!.kind, "software", "webgpuAdapterInfo names a software adapter");
      }
      // lib/backend's patches (webgpu.ts): a clear error instead of tfjs's `null.clearRect`
      // crash, and a webgpu tensor usable after switching to wasm.
      const g = gpu.guards!;
      assert(/synchronous readback.*await t\.data\(\)/.test(g.syncReadError), g.syncReadError);
      assertEquals(g.sumAfterSwitch, 8192, "webgpu tensor summed on wasm after the switch");
      await initBackend("wasm");
      const cpu = await runCases();
      for (const line of compareCases(gpu.cases!, cpu)) console.log(`  ${line}`);
      const ms = (r: CaseResults) =>
        Object.entries(r).filter(([k]) => k.startsWith("ms.")).map(([k, v]) =>
          `${k.slice(3, -5)} ${v[0].toFixed(0)}`
        ).join(", ");
      console.log(`  ms webgpu: ${ms(gpu.cases!)}\n  ms wasm:   ${ms(cpu)}`);
    },
  });
});

interface Summary {
  backend: string;
  adapter: Adapter | null;
  seconds: number;
  timings: Record<string, number>;
  metadata: string;
  rows: Record<string, Record<string, unknown>>;
}

const METRICS = ["maxBoxAcc", "maxBoxAccV2", "top1Loc", "top5Loc", "top1Cls", "top5Cls"];

/** Box metrics of two runs agree within one of `count` images, metric by metric. */
function assertMetricsClose(
  got: Record<string, unknown>,
  want: Record<string, unknown>,
  what: string,
  keys: readonly string[] = METRICS,
): void {
  const count = Number(want.count ?? 64);
  for (const k of keys) {
    if (want[k] === undefined) continue;
    const d = Math.abs(Number(got[k]) - Number(want[k]));
    assert(d <= 100 / count + 1e-9, `${what} ${k}: webgpu ${got[k]} vs wasm ${want[k]}`);
  }
}

/** The adapter a webgpu subprocess gets (null: none). */
async function probeAdapter(dir: string): Promise<Adapter | null> {
  const f = join(dir, "adapter.json");
  await denoRun([join(HERE, "webgpu_cases.ts"), "--probe", "--out", f], {});
  return JSON.parse(await Deno.readTextFile(f)).adapter;
}

Deno.test("webgpu vs wasm: a whole ci-profile train + evaluate (TEDLOC_BACKEND=webgpu)", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-webgpu-train-" });
  try {
    const adapter = await probeAdapter(dir);
    await t.step({
      name: adapter
        ? `on the ${adapter.kind} adapter '${adapter.description}'`
        : "skipped: no WebGPU adapter on this machine (docs/webgpu.md)",
      ignore: adapter === null,
      fn: () => trainAndCompare(dir),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * One TeD-Loc epoch and 10 CAM-baseline epochs instead of 60 (40 steps, not 240): the same
 * code path on both backends at a quarter of the time (the test budget), with the CAM cue
 * still a trained CAM's.
 */
const TRAIN_ARGS = ["--epochs", "1", "--cam-epochs", "10"];

async function trainAndCompare(dir: string): Promise<void> {
  // wasm first, with a fresh cache: frozen features and ImageNet-CAM cues on wasm.
  await denoRun([join(HERE, "webgpu_train.ts"), ...TRAIN_ARGS, "--out", join(dir, "wasm")], {
    TEDLOC_BACKEND: "wasm",
  });
  // The webgpu run reuses those two caches (extraction on webgpu is the MobileNet/CAM case
  // above, and would cost ~30 s on a software adapter); the CAM baseline's training, the CAM
  // cue, TeD-Loc training, evaluation and the score maps all run on webgpu.
  await Deno.mkdir(join(dir, "webgpu", "cache"), { recursive: true });
  for (const sub of ["features", "cues"]) {
    const cp = await new Deno.Command("cp", {
      args: ["-r", join(dir, "wasm", "cache", sub), join(dir, "webgpu", "cache", sub)],
    }).output();
    assert(cp.success, `copying the ${sub} cache failed`);
  }
  await denoRun([join(HERE, "webgpu_train.ts"), ...TRAIN_ARGS, "--out", join(dir, "webgpu")], {
    TEDLOC_BACKEND: "webgpu",
  });
  const read = async (b: string) =>
    JSON.parse(await Deno.readTextFile(join(dir, b, "summary.json"))) as Summary;
  const [cpu, gpu] = [await read("wasm"), await read("webgpu")];
  assertEquals([cpu.backend, gpu.backend], ["wasm", "webgpu"]);
  assertEquals(Object.keys(gpu.rows), Object.keys(cpu.rows));
  for (const m of Object.keys(cpu.rows)) {
    assertMetricsClose(gpu.rows[m], cpu.rows[m], `train: ${m}`);
  }
  // `deno task evaluate` on each run's saved TeD-Loc score maps.
  const evaluate = async (b: string) => {
    const json = join(dir, b, "evaluate.json");
    const maps = join(dir, b, "run", "scoremaps");
    await denoRun([
      join(ROOT, "tasks", "evaluate.ts"),
      ...["--metadata", cpu.metadata, "--scoremaps", maps, "--json", json],
    ], {});
    return JSON.parse(await Deno.readTextFile(json)).boxes as Record<string, unknown>;
  };
  const [ec, eg] = [await evaluate("wasm"), await evaluate("webgpu")];
  assertMetricsClose(eg, ec, "evaluate");
  // Score maps alone give the box metrics (classification needs the scores).
  assertMetricsClose(ec, cpu.rows.tedloc, "evaluate vs the pipeline's tedloc row", [
    "maxBoxAcc",
    "maxBoxAccV2",
  ]);
  let worst = 0;
  const ids = (await Deno.readTextFile(join(cpu.metadata, "image_ids.txt"))).split("\n")
    .map((l) => l.trim()).filter((l) => l);
  for (const id of ids) {
    const a = await readNpy(join(dir, "wasm", "run", "scoremaps", `${id}.npy`));
    const b = await readNpy(join(dir, "webgpu", "run", "scoremaps", `${id}.npy`));
    worst = Math.max(worst, maxAbsDiff(a.data as Float32Array, b.data as Float32Array));
  }
  assert(ids.length > 0 && worst <= 1e-4, `score maps differ by ${worst.toExponential(2)} > 1e-4`);
  const m = (s: Summary) => (s.rows.tedloc.maxBoxAcc as number).toFixed(2);
  console.log(
    `  TeD-Loc MaxBoxAcc webgpu ${m(gpu)} / wasm ${m(cpu)}; score maps max |Δ| ` +
      `${worst.toExponential(1)}; run ${gpu.seconds.toFixed(0)} s webgpu, ` +
      `${cpu.seconds.toFixed(0)} s wasm`,
  );
  const stages = (s: Summary) =>
    Object.entries(s.timings).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
  console.log(`  webgpu s: ${stages(gpu)}\n  wasm s:   ${stages(cpu)}`);
}
