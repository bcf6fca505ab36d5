/**
 * What every notebook needs and used to copy: its parameters (profile, figures folder,
 * whether CUB-50 runs), running experiments with one live progress line instead of
 * silence, and picking a method's row from a run record.
 *
 * The library's heavy parts (tfjs, the experiment runner) are imported when first used,
 * so `lib/notebook/mod.ts` stays cheap to load for `deno task notebooks`.
 *
 * @module
 */
import { relative } from "node:path";
import type { ExperimentContext, ExperimentRecord, ExperimentVariant } from "../run/experiment.ts";
import { jupyterSend, LiveLine } from "../util/progress.ts";
import { projectPath } from "../util/paths.ts";

/** The parameters the notebook runner (`deno task notebooks --profile …`) sets through env vars. */
export interface NotebookParameters {
  /** `TEDLOC_PROFILE` (default `quick`). */
  PROFILE: "ci" | "quick" | "full";
  /** Where figures and tables go: `TEDLOC_FIGURES_DIR`, else the project's `figures/`,
   * relative to the kernel's folder (the notebook's), so outputs carry no machine path. */
  FIGURES: string;
  /** Whether the CUB-50 data was found. */
  CUB_FOUND: boolean;
  /** Whether to run on CUB-50: found, and `TEDLOC_WITH_CUB` is not `0` (default off on ci). */
  WITH_CUB: boolean;
}

const PROFILES = ["ci", "quick", "full"] as const;

/**
 * Read the notebook parameters from the environment. An unknown profile is an error that
 * names `TEDLOC_PROFILE` (before any slow work).
 *
 * @example
 * ```ts
 * const { PROFILE, FIGURES, WITH_CUB } = await notebookParameters();
 * ```
 */
export async function notebookParameters(): Promise<NotebookParameters> {
  const profile = Deno.env.get("TEDLOC_PROFILE") ?? "quick";
  if (!(PROFILES as readonly string[]).includes(profile)) {
    throw new Error(`TEDLOC_PROFILE must be one of ${PROFILES.join(", ")}, got '${profile}'`);
  }
  const PROFILE = profile as NotebookParameters["PROFILE"];
  const { cubAvailable } = await import("../run/experiment.ts");
  const CUB_FOUND = cubAvailable();
  const WITH_CUB = CUB_FOUND &&
    (Deno.env.get("TEDLOC_WITH_CUB") ?? (PROFILE === "ci" ? "0" : "1")) !== "0";
  const FIGURES = Deno.env.get("TEDLOC_FIGURES_DIR") ??
    (relative(Deno.cwd(), projectPath("figures")) || ".");
  return { PROFILE, FIGURES, CUB_FOUND, WITH_CUB };
}

function seconds(t0: number): string {
  const s = (performance.now() - t0) / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Options of {@link runQuietly}. */
export interface RunQuietlyOptions {
  /** Name shown on the progress line (default: the experiment's dataset kind). */
  label?: string;
  /** Seconds between progress-line updates (default 0.5). */
  every?: number;
}

/**
 * `runExperiments` for notebooks: the runs' progress shows as one live line in the cell
 * (the latest progress line of the child runs, rewritten in place) that ends as one summary
 * line; when a run fails, its last 40 lines are printed before the error. Outside Jupyter
 * the progress lines go nowhere (scripts call `runExperiments` themselves).
 *
 * @example
 * ```ts
 * const records = await runQuietly(ctx, ["main"]);
 * const main = records.get("main")!;
 * ```
 */
export async function runQuietly(
  ctx: ExperimentContext,
  variants: ExperimentVariant[] = ["main"],
  opts: RunQuietlyOptions = {},
): Promise<Map<ExperimentVariant, ExperimentRecord>> {
  const { runExperiments } = await import("../run/experiment.ts");
  const label = opts.label ?? ctx.kind;
  const what = variants.length === 1 ? variants[0] : `${variants.length} variants`;
  const t0 = performance.now();
  const live = new LiveLine(`${label} · ${what}: looking for finished runs…`, {
    every: opts.every,
  });
  const tail: string[] = [];
  let trained = 0;
  const log = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    trained++;
    live.set(`${label} · ${what} · ${seconds(t0)} · ${line.trim()}`);
  };
  try {
    const records = await runExperiments(ctx, variants, { log });
    const how = trained > 0 ? "ran" : "reused finished runs";
    await live.done(`${label} · ${what}: ${how} in ${seconds(t0)}`);
    return records;
  } catch (err) {
    await live.done(`${label} · ${what}: failed after ${seconds(t0)}; its last lines:`);
    const text = tail.join("\n") + "\n";
    if (!(await jupyterSend("stream", { name: "stderr", text }))) console.error(text);
    throw err;
  }
}

/** One method's row of a run record (`tedloc`, `cam`, `center-prior`, …). */
export type RecordRow = ExperimentRecord["rows"][number];

/**
 * The row of `method` in a run record; an error naming the methods present if absent.
 *
 * @example
 * ```ts
 * const ted = methodRow(record, "tedloc").metrics;
 * ```
 */
export function methodRow(record: ExperimentRecord, method: string): RecordRow {
  const row = record.rows.find((r) => r.method === method);
  if (!row) {
    const known = record.rows.map((r) => r.method).join(", ");
    throw new Error(`no '${method}' row in this record (rows: ${known})`);
  }
  return row;
}
