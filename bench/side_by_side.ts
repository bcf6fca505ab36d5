/**
 * PyTorch side by side (issue 16 item 5): the same three workloads, same shapes, same machine,
 * one after the other in one go —
 *
 * | metric  | ours (bench/side_by_side_ours.ts)               | PyTorch (bench/torch/bench_torch.py)  |
 * | ------- | ----------------------------------------------- | ------------------------------------- |
 * | encoder | MobileNet v1 0.75 → conv_pw_11, folded, img/s   | same weights, folded, best layout     |
 * | train   | TeD-Loc step (trainTedLoc), B 32, 196×384→256→128, C 50 | the same head, losses, Adam   |
 * | eval    | BoxEvaluator, 1,389 maps 224², τ step 0.01       | Python reference of wsolevaluation    |
 *
 * Ours at 1 wasm thread, at `TEDLOC_WASM_THREADS=N` and as N processes at once (how the product
 * uses cores: runs/extraction workers); PyTorch at torch.set_num_threads(1) and (N) (the
 * evaluator is Python + OpenCV: N worker processes). Warm-up excluded, median of repeats. Also
 * checks that both MobileNets agree on real CUB images (max |Δ| of pw11), both train steps on
 * the same inputs (losses, gradients, Adam update) and both evaluators on MaxBoxAccV2. Prints a table and writes JSON (default runs/side_by_side.json).
 *
 * Without a Python that imports torch, numpy and cv2 it prints one line saying why and exits 0
 * (make one with `bench/torch/setup.sh` → `.venv-torch/`).
 *
 * Run: `deno run -A bench/side_by_side.ts [--iters 5] [--eval-iters 3] [--steps 60]
 *   [--warmup 10] [--cores 2] [--maps 1389] [--interval 0.01] [--only encoder,train,eval]
 *   [--python P] [--out F]` (`--interval 0.001` is wsolevaluation's library default τ step:
 *   10× the work for the reference's per-threshold contours, little more for our one sweep)
 *
 * @module
 */
import { join } from "node:path";
import { writeTextAtomic } from "../lib/io/atomic.ts";
import { projectPath } from "../lib/util/paths.ts";
import { mobilenet075Dir } from "./side_by_side_ours.ts";

type Json = Record<string, unknown>;

function arg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : dflt;
}

function count(name: string, dflt: number, min = 1): number {
  const v = Number(arg(name, String(dflt)));
  if (!Number.isInteger(v) || v < min) {
    console.error(`side_by_side: --${name} must be an integer ≥ ${min}, got '${arg(name, "")}'`);
    Deno.exit(2);
  }
  return v;
}

const OURS = projectPath("bench", "side_by_side_ours.ts");
const TORCH = projectPath("bench", "torch", "bench_torch.py");

/**
 * The Python to use (`--python`, `$TEDLOC_TORCH_PYTHON`, or `.venv-torch/bin/python`) and its
 * torch version, or why there is none (it must import torch, numpy and cv2).
 */
export async function findPython(): Promise<{ python: string; version: string } | { why: string }> {
  const python = arg("python", "") || Deno.env.get("TEDLOC_TORCH_PYTHON") ||
    projectPath(".venv-torch", "bin", "python");
  try {
    const o = await new Deno.Command(python, {
      args: ["-c", "import torch, numpy, cv2; print(torch.__version__)"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!o.success) {
      const err = new TextDecoder().decode(o.stderr).trim().split("\n").pop();
      return { why: `${python} cannot import torch, numpy and cv2 (${err})` };
    }
    return { python, version: new TextDecoder().decode(o.stdout).trim() };
  } catch {
    return { why: `no Python at ${python}` };
  }
}

/** Text chunks → lines (no JSR on this machine, so no @std/streams). */
function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, ctl) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const l of parts) ctl.enqueue(l);
    },
    flush(ctl) {
      if (rest) ctl.enqueue(rest);
    },
  });
}

/** Start processes at once; with `barrier`, release them together once all said `ready`. */
async function runAll(
  cmds: { cmd: string; args: string[]; env?: Record<string, string> }[],
  barrier: boolean,
): Promise<Json[]> {
  const procs = cmds.map((c) =>
    new Deno.Command(c.cmd, {
      args: c.args,
      env: c.env,
      stdin: barrier ? "piped" : "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn()
  );
  const readers = procs.map((p) =>
    p.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter()).getReader()
  );
  if (barrier) {
    for (const r of readers) {
      for (;;) {
        const { value, done } = await r.read();
        if (done) throw new Error("side_by_side: a child ended before it was ready");
        if (value === "ready") break;
      }
    }
    for (const p of procs) {
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode("go\n"));
      await w.close();
    }
  }
  const results = await Promise.all(readers.map(async (r) => {
    let last = "";
    for (;;) {
      const { value, done } = await r.read();
      if (done) break;
      if (value.trim()) last = value;
    }
    return last;
  }));
  const codes = await Promise.all(procs.map((p) => p.status));
  codes.forEach((s, i) => {
    if (!s.success) {
      throw new Error(`side_by_side: ${cmds[i].cmd} ${cmds[i].args.join(" ")} failed (${s.code})`);
    }
  });
  return results.map((l) => JSON.parse(l) as Json);
}

function ours(mode: string, threads: number, extra: string[], barrier = false) {
  return {
    cmd: Deno.execPath(),
    args: ["run", "-A", OURS, "--mode", mode, ...extra, ...(barrier ? ["--barrier"] : [])],
    env: { TEDLOC_WASM_THREADS: String(threads) },
  };
}

/** MaxBoxAcc / MaxBoxAccV2 from the per-part hit counts of our eval children. */
function mergeHits(parts: Json[]): { maxBoxAcc: number; maxBoxAccV2: number } {
  const n = parts.reduce((s, p) => s + (p.count as number), 0);
  const best = (mode: "largest" | "multi", iou: number) => {
    const rows = parts.map((p) => (p.hits as Record<string, Record<string, number[]>>)[mode][iou]);
    return Math.max(...rows[0].map((_, t) => rows.reduce((s, r) => s + r[t], 0))) * 100 / n;
  };
  return {
    maxBoxAcc: best("largest", 50),
    maxBoxAccV2: (best("multi", 30) + best("multi", 50) + best("multi", 70)) / 3,
  };
}

const KEYS: Record<string, { key: string; unit: string; label: string }> = {
  encoder: { key: "encoderImgPerS", unit: "img/s", label: "MobileNet 0.75 → pw11 (batch 16)" },
  train: { key: "trainStepPerS", unit: "step/s", label: "TeD-Loc train step (B 32)" },
  eval: { key: "evalMapsPerS", unit: "maps/s", label: "box eval, 224² maps" },
};

/** One metric on both sides: ours 1 / N threads / N procs, torch 1 / N. */
async function measure(
  metric: string,
  o: {
    python: string;
    cores: number;
    iters: number;
    evalIters: number;
    steps: number;
    warmup: number;
    interval: number;
    maps: number;
  },
  workload: string,
  modelDir: string,
): Promise<Json> {
  const N = o.cores, key = KEYS[metric].key;
  const it = metric === "eval" ? o.evalIters : o.iters;
  const extra = metric === "train"
    ? ["--steps", String(o.steps), "--warmup", String(o.warmup)]
    : metric === "eval"
    ? ["--iters", String(it), "--workload", workload, "--interval", String(o.interval)]
    : ["--iters", String(it)];
  const row: Json = {
    metric,
    unit: KEYS[metric].unit,
    label: metric === "eval"
      ? `box eval, ${o.maps} maps 224² (τ step ${o.interval})`
      : KEYS[metric].label,
  };
  console.error(`side_by_side: ${metric}: ours, 1 thread`);
  const one = (await runAll([ours(metric, 1, [...extra, "--part", "0/1"])], false))[0];
  const runsKey = `${metric}Runs`, raw: Json = {};
  row.raw = raw; // every repeat, to judge the noise
  row.ours1 = one[key];
  raw.ours1 = one[runsKey];
  if (metric === "eval") Object.assign(row, { oursMetrics: mergeHits([one]) });
  if (metric !== "eval") {
    console.error(`side_by_side: ${metric}: ours, ${N} wasm threads`);
    const th = (await runAll([ours(metric, N, extra)], false))[0];
    row.oursThreads = th[key];
    raw.oursThreads = th[runsKey];
  }
  console.error(`side_by_side: ${metric}: ours, ${N} processes at once`);
  const parts = await runAll(
    Array.from({ length: N }, (_, i) => ours(metric, 1, [...extra, "--part", `${i}/${N}`], true)),
    true,
  );
  raw.oursProcs = parts.map((p) => p[runsKey]);
  row.oursProcs = metric === "eval"
    // the whole evaluation ends with its slowest part
    ? (parts.reduce((s, p) => s + (p.count as number), 0) /
      Math.max(...parts.map((p) => (p.count as number) / (p[key] as number))))
    : parts.reduce((s, p) => s + (p[key] as number), 0);
  if (metric === "eval") row.oursProcsMetrics = mergeHits(parts);
  for (const t of [1, N]) {
    console.error(`side_by_side: ${metric}: torch, ${t} thread${t > 1 ? "s" : ""}`);
    const [r] = await runAll([{
      cmd: o.python,
      args: [
        TORCH,
        "--what",
        metric,
        "--threads",
        String(t),
        "--iters",
        String(it),
        "--steps",
        String(o.steps),
        "--warmup",
        String(o.warmup),
        "--model",
        modelDir,
        "--workload",
        workload,
        "--interval",
        String(o.interval),
      ],
    }], false);
    row[t === 1 ? "torch1" : "torchN"] = r[key];
    raw[t === 1 ? "torch1" : "torchN"] = r[runsKey];
    if (metric === "encoder") {
      row[t === 1 ? "torch1Layouts" : "torchNLayouts"] = {
        nchw: r.encoderNchwImgPerS,
        channelsLast: r.encoderChannelsLastImgPerS,
      };
    }
    if (metric === "eval") {
      row[t === 1 ? "torchMetrics" : "torchNMetrics"] = {
        maxBoxAcc: r.evalMaxBoxAcc,
        maxBoxAccV2: r.evalMaxBoxAccV2,
      };
    }
  }
  // how many times faster PyTorch is: on one core, and on N cores against our better way
  const bestOurs = Math.max(...[row.oursThreads, row.oursProcs].filter((v) => v) as number[]);
  const ratio = (a: unknown, b: unknown) =>
    typeof a === "number" && typeof b === "number" && b > 0 ? a / b : null;
  row.ratio1 = ratio(row.torch1, row.ours1);
  row.ratioN = ratio(row.torchN, bestOurs);
  return row;
}

/** The two train steps on the same seeded inputs: losses, gradients, Adam update. */
async function stepParity(python: string, tmp: string): Promise<Json> {
  await runAll([ours("stepdump", 1, ["--out", join(tmp, "step")])], false);
  return (await runAll([{
    cmd: python,
    args: [projectPath("bench", "torch", "check_step.py"), join(tmp, "step")],
  }], false))[0];
}

/** The two MobileNets on the same real CUB pixels: max |Δ| of conv_pw_11_relu. */
async function parity(python: string, modelDir: string, tmp: string): Promise<Json> {
  const dump =
    (await runAll([ours("dump", 1, ["--out", join(tmp, "dump"), "--n", "4"])], false))[0];
  if (dump.skipped) return { skipped: dump.skipped };
  return (await runAll([{
    cmd: python,
    args: [projectPath("bench", "torch", "check_pw11.py"), join(tmp, "dump"), modelDir],
  }], false))[0];
}

function table(rows: Json[], N: number): string {
  const f = (v: unknown) => typeof v === "number" ? v.toFixed(v >= 100 ? 0 : 1) : "–";
  const head = [
    "metric",
    "ours 1 thread",
    `ours ${N} threads`,
    `ours ${N} procs`,
    "torch 1 thread",
    `torch ${N} threads`,
    "torch/ours 1 core",
    `torch/ours ${N} cores`,
  ];
  const lines = rows.map((r) => [
    `${r.label}, ${r.unit}`,
    f(r.ours1),
    f(r.oursThreads),
    f(r.oursProcs),
    f(r.torch1),
    f(r.torchN),
    r.ratio1 === null ? "–" : `${(r.ratio1 as number).toFixed(2)}×`,
    r.ratioN === null ? "–" : `${(r.ratioN as number).toFixed(2)}×`,
  ]);
  const all = [head, ...lines];
  const w = head.map((_, j) => Math.max(...all.map((l) => l[j].length)));
  const fmt = (l: string[]) =>
    "| " + l.map((c, j) => j ? c.padStart(w[j]) : c.padEnd(w[j])).join(" | ") + " |";
  return [
    fmt(head),
    "| " + w.map((x, j) => j ? "-".repeat(x - 1) + ":" : "-".repeat(x)).join(" | ") + " |",
    ...lines.map(fmt),
  ].join("\n");
}

if (import.meta.main) {
  const py = await findPython();
  if ("why" in py) {
    console.log(
      `side_by_side: skipped: ${py.why}; create it with bench/torch/setup.sh (.venv-torch/)`,
    );
    Deno.exit(0);
  }
  const o = {
    python: py.python,
    cores: count("cores", 2, 2),
    iters: count("iters", 5),
    evalIters: count("eval-iters", 3),
    steps: count("steps", 60, 10),
    warmup: count("warmup", 10, 1),
    maps: count("maps", 1389),
    interval: Number(arg("interval", "0.01")),
  };
  const only = arg("only", "encoder,train,eval").split(",");
  const bad = only.filter((m) => !(m in KEYS));
  if (bad.length) {
    console.error(`side_by_side: --only: unknown metric '${bad[0]}' (encoder, train, eval)`);
    Deno.exit(2);
  }
  const out = arg("out", projectPath("runs", "side_by_side.json"));
  const modelDir = mobilenet075Dir();
  const tmp = await Deno.makeTempDir({ prefix: "side_by_side-" });
  const t0 = performance.now();
  try {
    if (!(o.interval > 0 && o.interval < 1)) {
      console.error(`side_by_side: --interval must be in (0, 1), got '${arg("interval", "")}'`);
      Deno.exit(2);
    }
    await runAll([ours("workload", 1, ["--out", tmp, "--maps", String(o.maps)])], false);
    const rows: Json[] = [];
    for (const m of only) {
      if (m === "encoder" && !modelDir) {
        console.error(
          "side_by_side: encoder skipped: no MobileNet 0.75 (set TEDLOC_MOBILENET_075)",
        );
        continue;
      }
      rows.push(await measure(m, o, tmp, modelDir ?? ""));
    }
    const check = modelDir && only.includes("encoder")
      ? await parity(py.python, modelDir, tmp)
      : { skipped: "encoder not measured" };
    const step = only.includes("train") ? await stepParity(py.python, tmp) : null;
    const result = {
      date: new Date().toISOString(),
      torch: py.version,
      deno: Deno.version.deno,
      cores: o.cores,
      cpus: navigator.hardwareConcurrency,
      loadavg: Deno.loadavg(),
      options: o,
      rows,
      pw11Parity: check,
      trainStepParity: step,
      seconds: (performance.now() - t0) / 1000,
    };
    console.log(table(rows, o.cores));
    console.log(
      `torch/ours: how many times faster PyTorch is (${o.cores} cores: against our faster of ` +
        `threads and processes). Eval: the reference is single-threaded Python + OpenCV, so its ` +
        `"${o.cores} threads" are ${o.cores} worker processes; ours evaluates in JavaScript (no wasm). ` +
        `Encoder: PyTorch's faster layout (channels_last or NCHW; both in the JSON).`,
    );
    if ("maxAbsDiff" in check) {
      console.log(
        `pw11 on ${check.images} CUB test images: max |Δ| ${
          (check.maxAbsDiff as number).toExponential(2)
        } (activations up to ${check.maxActivation})`,
      );
    }
    if (step) {
      console.log(
        `train step on the same inputs: losses within ${
          (step.maxLossRelDiff as number).toExponential(1)
        } (relative), gradients ${
          (step.maxGradDiffOverMaxGrad as number).toExponential(1)
        } of the largest, weights after Adam ${
          (step.maxWeightDiffAfterAdam as number).toExponential(1)
        }`,
      );
    }
    const ev = rows.find((r) => r.metric === "eval");
    if (ev) {
      console.log(
        `eval agreement: ours ${JSON.stringify(ev.oursMetrics)}, torch side ${
          JSON.stringify(ev.torchMetrics)
        }`,
      );
    }
    await Deno.mkdir(join(out, ".."), { recursive: true });
    await writeTextAtomic(out, JSON.stringify(result, null, 1) + "\n");
    console.log(`wrote ${out} (${result.seconds.toFixed(0)} s)`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
