/**
 * Headless notebook execution with the Deno Jupyter kernel, through nbclient with the
 * output-race fix (see `run_notebook.py` beside this file: Deno's kernel may publish a
 * cell's outputs after reporting idle, and stock nbclient drops them).
 *
 * One Python process (Debian's `/usr/bin/python3`) and one fresh kernel per notebook; the
 * kernel runs in the notebook's folder and inherits this process's environment plus
 * `env`, so notebooks read parameters such as `TEDLOC_PROFILE` from `Deno.env`.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../io/errors.ts";
import { cellSource, readIpynb } from "./source.ts";
import { PROJECT_ROOT, sharedDataDir } from "../util/paths.ts";

/**
 * Largest executed notebook (bytes) the runner accepts quietly: GitHub's notebook viewer
 * gives up on large files and every re-execution commits the file again. Over it, the run
 * still succeeds and {@link runNotebooks} prints a warning (show figures at screen size:
 * `showFigure`, `showImage`; full resolution belongs in figures/).
 */
export const NOTEBOOK_SIZE_LIMIT = 3_000_000;

const RUNNER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "run_notebook.py");

/** Options of {@link runNotebooks} / {@link runNotebook}. */
export interface RunNotebooksOptions {
  /** Write executed notebooks into this folder (same file names) instead of in place. */
  outDir?: string;
  /** Extra environment variables for the kernel (merged over this process's). */
  env?: Record<string, string>;
  /** Seconds one cell may run before the notebook fails (default 1800). */
  timeoutPerCell?: number;
  /** Seconds of IOPub silence awaited after each cell's idle (default 0.05). */
  grace?: number;
  /** The Python that has nbclient (default `/usr/bin/python3`, else `python3`). */
  python?: string;
  /** The Deno binary the kernel runs (default: the one running this code). */
  deno?: string;
  /** Receives one line per notebook start/finish (default: `console.log`). */
  log?: (line: string) => void;
}

/** What one executed notebook reports. */
export interface NotebookRunResult {
  /** The notebook that was executed. */
  path: string;
  /** Where the executed notebook was written. */
  outPath: string;
  /** All cells, and the code cells among them that ran. */
  cells: number;
  codeCells: number;
  /** Wall time including kernel start. */
  seconds: number;
  /** Outputs that arrived after their cell's idle message (caught by the grace period). */
  lateAfterIdle: number;
  /** Outputs that arrived while a later cell ran (attached to their own cell). */
  lateRescued: number;
  /** Size of the executed notebook file in bytes. */
  bytes: number;
}

/**
 * A notebook failed: a cell raised, timed out, or the kernel died. The message names the
 * notebook, the cell index (0-based, as in the .ipynb `cells` array), the cell's first
 * source line and the error.
 */
export class NotebookError extends Error {
  /** The notebook that failed. */
  readonly notebook: string;
  /** Index of the failing cell in the notebook's `cells` array, or -1 (kernel start). */
  readonly cellIndex: number;
  /** First non-blank source line of the failing cell. */
  readonly firstLine: string;
  /** The error's name and value as the kernel reported them (e.g. "ReferenceError"). */
  readonly ename: string;
  readonly evalue: string;
  /** The kernel's traceback lines (ANSI colours removed). */
  readonly traceback: string[];

  constructor(
    notebook: string,
    cellIndex: number,
    firstLine: string,
    error: { ename?: string; evalue?: string; message?: string; traceback?: string[] },
  ) {
    const where = cellIndex >= 0 ? ` at cell ${cellIndex} (\`${firstLine}\`)` : "";
    const what = error.ename
      ? `${error.ename}: ${error.evalue ?? ""}`
      : (error.message ?? "unknown error");
    super(`notebook ${notebook} failed${where}: ${what}`);
    this.name = "NotebookError";
    this.notebook = notebook;
    this.cellIndex = cellIndex;
    this.firstLine = firstLine;
    this.ename = error.ename ?? "";
    this.evalue = error.evalue ?? error.message ?? "";
    this.traceback = error.traceback ?? [];
  }

  /** The message plus the kernel's traceback, indented, for terminals. */
  details(): string {
    const headline = `${this.ename}: ${this.evalue}`;
    const tb = this.traceback.filter((l) => l.trim().length > 0 && l.trim() !== headline);
    return [this.message, ...tb.map((l) => "  " + l)].join("\n");
  }
}

interface RunnerEvent {
  event: "start" | "cell" | "late" | "done" | "error";
  [key: string]: unknown;
}

function defaultPython(): string {
  try {
    Deno.statSync("/usr/bin/python3");
    return "/usr/bin/python3";
  } catch {
    return "python3";
  }
}

/** Lines the kernel prints on every start; hidden from the user. */
const KERNEL_NOISE = [/"deno jupyter" is unstable/];

async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  }
  if (buffered.length > 0) onLine(buffered);
}

/**
 * Execute one notebook and write it (in place, or into `opts.outDir`) atomically.
 * Throws {@link NotebookError} when a cell fails and `InputError` when the notebook
 * does not exist or cannot be read.
 *
 * @example
 * ```ts
 * const r = await runNotebook("notebooks/00_quickstart.ipynb", { env: { TEDLOC_PROFILE: "ci" } });
 * console.log(`${r.codeCells} cells in ${r.seconds} s`);
 * ```
 */
export async function runNotebook(
  path: string,
  opts: RunNotebooksOptions = {},
): Promise<NotebookRunResult> {
  const abs = resolve(path);
  try {
    if (!Deno.statSync(abs).isFile) throw new InputError("not a notebook file", { file: path });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new InputError("notebook not found", { file: path });
    }
    throw err;
  }
  const outPath = opts.outDir ? resolve(opts.outDir, basename(abs)) : abs;
  const args = [
    RUNNER_SCRIPT,
    abs,
    "--out",
    outPath,
    "--deno",
    opts.deno ?? Deno.execPath(),
    "--grace",
    String(opts.grace ?? 0.05),
    "--timeout-per-cell",
    String(opts.timeoutPerCell ?? 1800),
    // committed outputs carry project-relative paths, not this machine's
    "--project-root",
    PROJECT_ROOT,
    ...(sharedDataDir() ? ["--shared-root", sharedDataDir()!] : []),
  ];
  let child;
  const python = opts.python ?? defaultPython();
  try {
    child = new Deno.Command(python, {
      args,
      env: { NO_COLOR: "1", ...(opts.env ?? {}) },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new Error(
      `cannot start ${python} (${(err as Error).message}): install Debian's python3 with ` +
        `Jupyter (bash scripts/setup.sh)`,
    );
  }
  const events: RunnerEvent[] = [];
  const stderrLines: string[] = [];
  await Promise.all([
    forwardLines(child.stdout, (line) => {
      if (!line.trim()) return;
      try {
        events.push(JSON.parse(line) as RunnerEvent);
      } catch {
        stderrLines.push(line); // not ours: e.g. a library printing to stdout
      }
    }),
    forwardLines(child.stderr, (line) => {
      if (!line.trim() || KERNEL_NOISE.some((re) => re.test(line))) return;
      stderrLines.push(line);
    }),
  ]);
  const status = await child.status;
  const start = events.find((e) => e.event === "start");
  const done = events.find((e) => e.event === "done");
  const failure = events.find((e) => e.event === "error");
  if (status.success && done && start) {
    return {
      path: abs,
      outPath,
      cells: Number(start.cells),
      codeCells: Number(start.code_cells),
      seconds: Number(done.seconds),
      lateAfterIdle: Number(done.late_after_idle),
      lateRescued: Number(done.late_rescued),
      bytes: (await Deno.stat(outPath)).size,
    };
  }
  if (failure?.kind === "missing") throw new InputError("notebook not found", { file: path });
  if (failure?.kind === "unreadable") throw new InputError(String(failure.message), {});
  if (failure?.kind === "setup") throw new Error(String(failure.message));
  if (failure) {
    throw new NotebookError(path, Number(failure.cell ?? -1), String(failure.first_line ?? ""), {
      ename: failure.ename as string | undefined,
      evalue: failure.evalue as string | undefined,
      message: failure.message as string | undefined,
      traceback: failure.traceback as string[] | undefined,
    });
  }
  const tail = stderrLines.slice(-20).join("\n");
  throw new NotebookError(path, -1, "", {
    message: `runner exited with code ${status.code}${tail ? `:\n${tail}` : ""}`,
  });
}

/**
 * Execute notebooks in order, stopping at the first failure (a {@link NotebookError}).
 * Prints (through `opts.log`) one line when each notebook starts and one when it ends:
 * name, cells, seconds.
 *
 * @example
 * ```ts
 * await runNotebooks(listNotebooks("notebooks"), { env: { TEDLOC_PROFILE: "quick" } });
 * ```
 */
export async function runNotebooks(
  paths: string[],
  opts: RunNotebooksOptions = {},
): Promise<NotebookRunResult[]> {
  const log = opts.log ?? ((line: string) => console.log(line));
  // Fail before running anything when a path is wrong: a typo should not cost a long run.
  for (const p of paths) {
    try {
      Deno.statSync(p);
    } catch {
      throw new InputError("notebook not found", { file: p });
    }
  }
  const results: NotebookRunResult[] = [];
  for (const [i, p] of paths.entries()) {
    const name = basename(p);
    log(`[${i + 1}/${paths.length}] ${name}: running`);
    const r = await runNotebook(p, opts);
    const late = r.lateAfterIdle + r.lateRescued;
    log(
      `[${i + 1}/${paths.length}] ${name}: ${r.codeCells} code cells (${r.cells} cells) in ` +
        `${r.seconds.toFixed(1)} s${late ? `, ${late} late outputs kept` : ""} → ${r.outPath}`,
    );
    if (r.bytes > NOTEBOOK_SIZE_LIMIT) {
      log(
        `[${i + 1}/${paths.length}] warning: ${name} is ${(r.bytes / 1e6).toFixed(1)} MB, over ` +
          `${NOTEBOOK_SIZE_LIMIT / 1e6} MB: show figures and images at screen size ` +
          `(showFigure, showImage) and keep full resolution in figures/`,
      );
    }
    results.push(r);
  }
  return results;
}

/**
 * The `*.ipynb` files of a folder, sorted by name (the run order).
 *
 * @example
 * ```ts
 * listNotebooks("notebooks"); // ["notebooks/00_quickstart.ipynb", …]
 * ```
 */
export function listNotebooks(dir: string): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) names.push(entry.name);
  }
  return names.sort().map((n) => join(dir, n));
}

/**
 * Resolve command-line notebook names: a path (relative to `cwd`), a file name inside `dir`,
 * a name without `.ipynb` (`00_quickstart`), or a unique prefix (`00`). Unknown names →
 * `InputError`.
 */
export function resolveNotebookNames(names: string[], dir: string, cwd = Deno.cwd()): string[] {
  const all = (() => {
    try {
      return listNotebooks(dir);
    } catch {
      return [];
    }
  })();
  return names.map((name) => {
    for (const candidate of [resolve(cwd, name), join(dir, name), join(dir, `${name}.ipynb`)]) {
      try {
        if (Deno.statSync(candidate).isFile) return candidate;
      } catch { /* try the next form */ }
    }
    const prefixed = all.filter((p) => basename(p).startsWith(name));
    if (prefixed.length === 1) return prefixed[0];
    const known = all.map((p) => basename(p, ".ipynb")).join(", ") || "none";
    throw new InputError(
      prefixed.length > 1
        ? `notebook name '${name}' is ambiguous: ${prefixed.map((p) => basename(p)).join(", ")}`
        : `notebook not found: '${name}' (notebooks in ${dir}: ${known})`,
    );
  });
}

/**
 * Problems of an executed notebook: a code cell without outputs, an error output, a
 * missing `execution_count`. Empty list = fine. Code cells tagged `allow-empty` may have
 * no outputs; cells with blank source are ignored.
 *
 * @example
 * ```ts
 * const problems = await checkExecutedNotebook("notebooks/00_quickstart.ipynb");
 * assertEquals(problems, []);
 * ```
 */
export async function checkExecutedNotebook(path: string): Promise<string[]> {
  const nb = await readIpynb(path);
  if (!Array.isArray(nb.cells)) throw new InputError("not a notebook: no cells", { file: path });
  const problems: string[] = [];
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    const source = cellSource(cell);
    if (!source.trim()) return;
    const first = source.split("\n").find((l) => l.trim())?.trim() ?? "";
    const where = `cell ${i} (\`${first}\`)`;
    if (typeof cell.execution_count !== "number") problems.push(`${where}: not executed`);
    const outputs = cell.outputs ?? [];
    const allowEmpty = cell.metadata?.tags?.includes("allow-empty") ?? false;
    if (outputs.length === 0 && !allowEmpty) problems.push(`${where}: no outputs`);
    for (const o of outputs) {
      if (o.output_type === "error") problems.push(`${where}: error ${o.ename}: ${o.evalue}`);
    }
  });
  return problems;
}
