/**
 * Several runs at once: each in its own Deno process running this module, which receives a
 * serialized job (config + where to run it) on stdin — no command-line re-entry. One process
 * per run keeps tfjs-wasm's single thread per core busy and the caller's memory flat.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { InputError } from "../io/errors.ts";
import { runCli } from "../util/cli.ts";
import { interruptSignal } from "../util/interrupt.ts";
import { projectPath } from "../util/paths.ts";
import type { RunConfig } from "../config/schema.ts";
import { runKey } from "../config/identity.ts";
import { loadRunInputs } from "./inputs.ts";
import { readRunRecord, type RunOptions, type RunRecord } from "./run.ts";

/** What a child process is asked to do. */
export interface RunJob {
  mode: "run" | "warm";
  config: RunConfig;
  runsDir?: string;
  cacheDir?: string;
  force?: boolean;
  workers?: number;
  /** Run the frozen encoder inside training instead of caching its tokens. */
  encoderInLoop?: boolean;
}

/** Options of {@link runConfigs}. */
export interface RunConfigsOptions
  extends Pick<RunOptions, "runsDir" | "cacheDir" | "workers" | "encoderInLoop"> {
  /** Runs at once (default {@link defaultParallelRuns}). */
  parallel?: number;
  /** Run again even when finished. */
  force?: boolean;
  /** Where the children's output lines go (default stderr), each prefixed `[name]`. */
  log?: (line: string) => void;
}

/**
 * Runs at once by default: one per core, at most one per ~1.5 GB of free memory (a run
 * child's measured peak), at least 1.
 */
export function defaultParallelRuns(
  cores = navigator.hardwareConcurrency ?? 2,
  freeBytes = freeMemoryBytes(),
): number {
  const byMemory = freeBytes === null ? cores : Math.floor(freeBytes / 1.5e9);
  return Math.max(1, Math.min(cores, byMemory));
}

function freeMemoryBytes(): number | null {
  try {
    return Deno.systemMemoryInfo().available;
  } catch {
    return null;
  }
}

/**
 * Make sure every config has a finished run — equal configs once, up to `parallel` at a time,
 * each in a child process (after the shared inputs are computed once in one child) — and
 * return their records in the order of `configs`.
 *
 * @example
 * ```ts
 * const recs = await runConfigs([cfgMain, cfgKd], { parallel: 2 });
 * ```
 */
export async function runConfigs(
  configs: RunConfig[],
  opts: RunConfigsOptions = {},
): Promise<RunRecord[]> {
  const parallel = opts.parallel ?? defaultParallelRuns();
  if (!Number.isInteger(parallel) || parallel < 1) {
    throw new InputError(`parallel must be a positive integer, got ${parallel}`);
  }
  const log = opts.log ?? ((line: string) => console.error(line));
  const byKey = new Map<string, RunConfig>();
  for (const cfg of configs) {
    const key = await runKey(cfg, (await loadRunInputs(cfg)).dataKey);
    if (!byKey.has(key)) byKey.set(key, cfg);
  }
  const todo: RunConfig[] = [];
  for (const cfg of byKey.values()) {
    if (opts.force || (await readRunRecord(cfg, opts)) === null) todo.push(cfg);
  }
  const job = (mode: RunJob["mode"], config: RunConfig): RunJob => ({
    mode,
    config,
    runsDir: opts.runsDir,
    cacheDir: opts.cacheDir,
    force: opts.force,
    workers: opts.workers,
    encoderInLoop: opts.encoderInLoop,
  });
  if (todo.length > 1 && parallel > 1 && !opts.encoderInLoop) {
    // shared inputs first, in one child: otherwise each parallel run would compute them
    const warm = todo.find((c) => c.eval.flipTta) ?? todo[0];
    const code = await runChild(job("warm", warm), "shared inputs", log);
    if (code !== 0) throw new Error(`preparing shared inputs failed (exit ${code}); see above`);
  }
  const queue = [...todo], failures: string[] = [];
  const worker = async () => {
    for (let cfg = queue.shift(); cfg !== undefined; cfg = queue.shift()) {
      const code = await runChild(job("run", cfg), cfg.name, log);
      if (code !== 0) failures.push(`${cfg.name} (exit ${code})`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, todo.length) }, worker));
  if (failures.length > 0) {
    throw new Error(`runs failed: ${failures.join(", ")}; their output is above`);
  }
  const out: RunRecord[] = [];
  for (const cfg of configs) {
    const rec = await readRunRecord(cfg, opts);
    if (rec === null) throw new Error(`run ${cfg.name} finished without a record`);
    out.push(rec);
  }
  return out;
}

/** One job in a child process running this module; its output lines go to `log`. */
async function runChild(job: RunJob, label: string, log: (line: string) => void): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(import.meta.url)],
    cwd: projectPath(), // where deno.json (the import map) is
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(job)));
  await writer.close();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const lines = buf.split(/\r?\n|\r/);
      buf = lines.pop()!;
      for (const l of lines) if (l.trim() && !/XDG_RUNTIME_DIR/.test(l)) log(`[${label}] ${l}`);
    }
    if (buf.trim()) log(`[${label}] ${buf}`);
  };
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  return status.code;
}

/** The child's side: read one job from stdin and carry it out. */
async function childMain(): Promise<void> {
  const { initBackend } = await import("../backend/mod.ts");
  const { runConfig, warmRunCaches } = await import("./run.ts");
  const { disposeRunInputs } = await import("./inputs.ts");
  const text = await new Response(Deno.stdin.readable).text();
  const job = JSON.parse(text) as RunJob;
  // The job's config goes over the defaults again, validated: a parent on older code may send
  // one without the keys added since, and they then take their default (no-op) values.
  const { resolveRunConfig } = await import("../config/resolve.ts");
  const layer = job.config as unknown as Record<string, unknown>;
  job.config = await resolveRunConfig({ overrides: [{ layer, where: "the job" }] });
  await initBackend();
  try {
    if (job.mode === "warm") {
      const t = await warmRunCaches(job.config, job);
      const stages = Object.entries(t).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ");
      console.error(`shared inputs ready: ${stages}`);
    } else {
      const { dir } = await runConfig(job.config, { ...job, signal: interruptSignal() });
      console.error(`done: ${dir}`);
    }
  } finally {
    await disposeRunInputs();
  }
}

if (import.meta.main) await runCli(childMain);
