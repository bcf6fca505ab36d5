/**
 * Peak memory of training as the data grows: TeD-Loc trained on 2k, 8k and 32k images of
 * cached tokens (14×14×128, float16, views test + flip: the ci encoder's shape), each in a
 * fresh child process whose peak RSS (`VmHWM`) is reported. With tokens read per batch from
 * the cache files ("disk", the default) the peak should stay flat; "memory" (the whole split
 * in one Float32Array, as before) is shown for contrast where it fits.
 *
 * The tokens are synthetic (a seeded block of images tiled with per-image shifts, written
 * once to `$TMPDIR/tedloc_rss/`), the cue maps a seeded pattern: memory, not accuracy, is
 * measured. Each child trains `STEPS` steps of batch 32 (shuffled over the whole split, so
 * reads hit the whole file).
 *
 * Run: `nice deno run -A bench/train_rss.ts [--sizes 2000,8000,32000] [--steps 150]
 * [--memory 2000,8000]`.
 */
import { join } from "node:path";
import { initBackend } from "../lib/backend/mod.ts";
import { Rng } from "../lib/util/rng.ts";
import { diskTokenSource, sourcedFeatureSet } from "../lib/model/token_source.ts";
import { FeatureFileWriter, formatBytes } from "../lib/train/feature_files.ts";
import { trainTedLoc } from "../lib/train/trainer.ts";
import type { Anchors } from "../lib/text/anchors.ts";

const GRID: [number, number] = [14, 14], DIM = 128, CLASSES = 8, N = GRID[0] * GRID[1];
const PER = N * DIM;

function arg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
}

/** Write `n` images × 2 views of synthetic tokens (once; reused across bench runs). */
async function ensureTokens(dir: string, n: number): Promise<string[]> {
  const files = [0, 1].map((v) => join(dir, `rss-${n}.v${v}`));
  try {
    await Deno.stat(files[1] + ".bin");
    return files.map((f) => f + ".bin");
  } catch { /* make them */ }
  const rng = new Rng(7), block = 256;
  const base = Float32Array.from({ length: block * PER }, () => rng.normal());
  for (const [v, f] of files.entries()) {
    const w = new FeatureFileWriter(f, n, PER, "f16");
    for (let s = 0; s < n; s += block) {
      const count = Math.min(block, n - s), chunk = new Float32Array(count * PER);
      for (let i = 0; i < count; i++) {
        const shift = ((s + i) * 131 + v * 17) % PER; // each image differs from its block twin
        const src = base.subarray((i % block) * PER, (i % block + 1) * PER);
        chunk.set(src.subarray(shift), i * PER);
        chunk.set(src.subarray(0, shift), i * PER + PER - shift);
        chunk[i * PER + ((s + i) % PER)] += (s + i) % CLASSES; // a class signal
      }
      w.write(s, chunk);
    }
    // deno-lint-ignore no-explicit-any
    await w.finish({} as any);
  }
  return files.map((f) => f + ".bin");
}

/** The child: train `steps` steps on `n` images; print peak RSS as JSON. */
async function child(n: number, mode: string, dir: string, steps: number): Promise<void> {
  await initBackend("wasm");
  const files = [0, 1].map((v) => join(dir, `rss-${n}.v${v}.bin`));
  const ids = Array.from({ length: n }, (_, i) => `img/${i}.png`);
  const meta = {
    encoderId: "synthetic-rss",
    ids,
    grid: GRID,
    dim: DIM,
    stride: 16,
    cellOffset: 8,
    views: ["test", "flip"],
  };
  const source = diskTokenSource(files, n, PER, "f16");
  const features = mode === "memory"
    ? { ...meta, tokens: source.readAll!() }
    : sourcedFeatureSet(meta, source);
  const labels = Int32Array.from(ids, (_, i) => i % CLASSES);
  const maps = new Float32Array(n * N);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < N; p++) maps[i * N + p] = ((p * 7 + i * 3) % N) / N;
  }
  const rng = new Rng(3);
  const anchors: Anchors = {
    classNames: Array.from({ length: CLASSES }, (_, k) => `c${k}`),
    vectors: Float32Array.from({ length: CLASSES * 64 }, () => rng.normal()),
    count: CLASSES,
    dim: 64,
    template: "",
    source: "synthetic",
  };
  const ctl = new AbortController();
  const t0 = performance.now();
  let done = 0;
  const r = await trainTedLoc(
    {
      features,
      labels,
      cues: { source: "synthetic", ids: [...ids], grid: GRID, maps },
      anchors,
    },
    { epochs: 1, batchSize: 32 },
    {
      progress: false,
      signal: ctl.signal,
      onStep: (s) => {
        done = s;
        if (s >= steps) ctl.abort();
      },
    },
  );
  r.model.dispose();
  const status = await Deno.readTextFile("/proc/self/status");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  console.log(JSON.stringify({
    n,
    mode,
    steps: done,
    stepsPerSecond: done / ((performance.now() - t0) / 1000),
    peakRssMB: kb("VmHWM") / 1024,
  }));
}

if (import.meta.main) {
  const steps = Number(arg("steps", "150"));
  const dir = arg("dir", join(Deno.env.get("TMPDIR") ?? "/tmp", "tedloc_rss"));
  if (Deno.args[0] === "--child") {
    await child(Number(Deno.args[1]), Deno.args[2], dir, steps);
  } else {
    const sizes = arg("sizes", "2000,8000,32000").split(",").map(Number);
    const memory = arg("memory", "2000,8000").split(",").filter(Boolean).map(Number);
    const runs: [number, string][] = [
      ...sizes.map((n): [number, string] => [n, "disk"]),
      ...memory.map((n): [number, string] => [n, "memory"]),
    ];
    console.log("images  tokens  cache on disk  peak RSS  steps/s");
    for (const [n, mode] of runs) {
      await ensureTokens(dir, n);
      const o = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          import.meta.filename!,
          "--child",
          String(n),
          mode,
          "--dir",
          dir,
          "--steps",
          String(steps),
        ],
        stderr: "inherit",
      }).output();
      const r = JSON.parse(new TextDecoder().decode(o.stdout).trim().split("\n").pop()!);
      console.log(
        `${String(n).padStart(6)}  ${mode.padEnd(6)}  ${
          formatBytes(2 * n * PER * 2).padStart(13)
        }  ${r.peakRssMB.toFixed(0).padStart(5)} MB  ${r.stepsPerSecond.toFixed(1).padStart(7)}`,
      );
    }
  }
}
