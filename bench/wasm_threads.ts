/**
 * One process, several threads: tfjs-wasm's threaded SIMD build (`TEDLOC_WASM_THREADS`,
 * lib/backend/wasm_threads.ts) against one thread, on (a) MobileNet v1 0.75 → conv_pw_11
 * (BatchNorm folded, batch 16, random pixels), img/s, from `/work/shared/data/mobilenet`
 * (or `$TEDLOC_MOBILENET_075`), and (b) a TeD-Loc train step (B 32, 196 tokens, 384 → 256 →
 * 128, 50 classes, the three losses, Adam), step/s. Each thread count runs in a fresh child
 * (the pool is fixed when wasm starts); rounds alternate to even out a shared machine.
 *
 * Run: `deno run -A bench/wasm_threads.ts [--threads 1,2] [--rounds 2]`.
 */
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { initBackend, readFloat32 } from "../lib/backend/mod.ts";
import { TfjsCnnEncoder } from "../lib/model/mobilenet.ts";
import { makeSyntheticTokens, trainTedLoc } from "../lib/train/mod.ts";
import { sharedDataPath } from "../lib/util/paths.ts";

function arg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
}

async function child(): Promise<void> {
  await initBackend("wasm");
  const out: Record<string, number | string> = { threads: getThreadsCount() };
  const dir = Deno.env.get("TEDLOC_MOBILENET_075") ??
    sharedDataPath("mobilenet", "mobilenet_v1_0.75_224");
  if (dir) {
    const enc = await TfjsCnnEncoder.load(dir, { layer: "conv_pw_11_relu" });
    const x = tf.randomUniform([16, 224, 224, 3], 0, 255, "float32", 1) as tf.Tensor4D;
    await readFloat32(enc.encode(x), { dispose: true }); // warm-up
    const reps = 4, t0 = performance.now();
    for (let i = 0; i < reps; i++) await readFloat32(enc.encode(x), { dispose: true });
    out.mobilenetImgPerS = (reps * 16) / ((performance.now() - t0) / 1000);
    x.dispose();
    enc.dispose();
  } else out.mobilenet = "skipped: no /work/shared/data/mobilenet/mobilenet_v1_0.75_224";
  const data = makeSyntheticTokens({
    numClasses: 50,
    imagesPerClass: 4,
    grid: [14, 14],
    dim: 384,
    anchorDim: 128,
    prefix: "threads",
  });
  const r = await trainTedLoc(
    {
      features: data.features,
      labels: data.labels,
      cues: data.objectnessCues,
      anchors: data.anchors,
    },
    { epochs: 6, batchSize: 32, model: { decoder: { hidden: 256 } } },
    { progress: false },
  );
  r.model.dispose();
  out.trainStepPerS = 1 / r.secondsPerStep;
  console.log(JSON.stringify(out));
}

if (Deno.args[0] === "--child") await child();
else {
  const threads = arg("threads", "1,2").split(",").map(Number);
  const rounds = Number(arg("rounds", "2"));
  console.log("wasm threads (XNNPACK)  MobileNet 0.75→pw11 img/s  TeD-Loc train step/s");
  for (let r = 0; r < rounds; r++) {
    for (const t of threads) {
      const o = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", import.meta.filename!, "--child"],
        env: { TEDLOC_WASM_THREADS: String(t) },
        stderr: "inherit",
      }).output();
      const j = JSON.parse(new TextDecoder().decode(o.stdout).trim().split("\n").pop()!);
      console.log(
        `${String(t).padStart(5)} (${j.threads})${" ".repeat(14)}${
          (j.mobilenetImgPerS?.toFixed(1) ?? j.mobilenet).padStart(10)
        }${j.trainStepPerS.toFixed(2).padStart(24)}`,
      );
    }
  }
}
