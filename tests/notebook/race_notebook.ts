/**
 * A generated notebook that exposes the Deno kernel's output race, and how to count what an
 * executed copy lost. Shared by the runner test and bench/notebook_race.ts.
 * @module
 */

export interface Cell {
  id: string;
  cell_type: "code" | "markdown";
  metadata: Record<string, unknown>;
  source: string;
  execution_count?: number | null;
  outputs?: Output[];
}
export interface Output {
  output_type: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
  ename?: string;
  evalue?: string;
}

export function notebook(cells: Cell[]): string {
  return JSON.stringify({
    cells,
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

export function code(i: number, source: string): Cell {
  return {
    id: `c${i}`,
    cell_type: "code",
    metadata: {},
    source,
    execution_count: null,
    outputs: [],
  };
}

/** What each generated cell must print: marker → output type that carries it. */
export type Expected = Map<string, string>;

/** How the generated cells print: plain `console.log` / un-awaited `Deno.jupyter.display`
 * (what users write), or lib's awaited `print` / `displayBundle` (what lib's helpers do). */
export type RaceStyle = "console" | "lib";

/**
 * `n` code cells cycling through: a bare expression (execute_result), a display call
 * (display_data), a printed line (stream), and all three in one cell. With style `lib`, a
 * first cell (expecting nothing) imports lib's display helpers from `libDisplayUrl`. With
 * `payloadBytes`, every cell first displays an image of that many bytes (what makes the
 * kernel's output queue lag, as a figure-heavy notebook does); those are not counted.
 */
export function raceNotebook(
  n = 40,
  opts: { style?: RaceStyle; libDisplayUrl?: string; payloadBytes?: number } = {},
): { json: string; expected: Expected[] } {
  const style = opts.style ?? "console";
  const cells: Cell[] = [];
  const expected: Expected[] = [];
  if (style === "lib") {
    if (!opts.libDisplayUrl) throw new Error("style 'lib' needs libDisplayUrl");
    cells.push(code(-1, `import { displayBundle, print } from "${opts.libDisplayUrl}";`));
    expected.push(new Map());
  }
  const big = opts.payloadBytes
    ? (style === "lib"
      ? `await displayBundle({ "image/png": BIG, "text/plain": "payload" });\n`
      : `await Deno.jupyter.display({ "image/png": BIG, "text/plain": "payload" }, { raw: true });\n`)
    : "";
  if (opts.payloadBytes) {
    cells.push(code(-2, `const BIG = "A".repeat(${opts.payloadBytes});`));
    expected.push(new Map());
  }
  for (let i = 0; i < n; i++) {
    const expr = `"expr-${i}"`;
    const display = style === "lib"
      ? `await displayBundle({ "text/plain": "display-${i}" });`
      : `Deno.jupyter.display({ "text/plain": "display-${i}" }, { raw: true });`;
    const log = style === "lib" ? `await print("log-${i}");` : `console.log("log-${i}");`;
    const kind = i % 4;
    const lines = kind === 0
      ? [expr]
      : kind === 1
      ? [display]
      : kind === 2
      ? [log]
      : [log, display, expr];
    cells.push(code(i, big + lines.join("\n")));
    const e: Expected = new Map();
    if (kind === 0 || kind === 3) e.set(`expr-${i}`, "execute_result");
    if (kind === 1 || kind === 3) e.set(`display-${i}`, "display_data");
    if (kind === 2 || kind === 3) e.set(`log-${i}`, "stream");
    expected.push(e);
  }
  return { json: notebook(cells), expected };
}

export function outputText(o: Output): string {
  const t = o.text ?? o.data?.["text/plain"] ?? "";
  return Array.isArray(t) ? t.join("") : t;
}

/**
 * Where a front end's Run All put each marker (`bench/run_all.py`'s per-cell outputs):
 * markers under another code cell (`misplaced`) and markers nowhere (`lost`), as
 * "cell i: marker (type)" (i counts code cells).
 */
export function runAllPlacement(
  outputs: { type: string; text: string }[][],
  expected: Expected[],
): { misplaced: string[]; lost: string[] } {
  const misplaced: string[] = [], lost: string[] = [];
  expected.forEach((e, i) => {
    for (const [marker, type] of e) {
      const has = (j: number) =>
        (outputs[j] ?? []).some((o) => o.type === type && o.text.includes(marker));
      if (has(i)) continue;
      const where = outputs.findIndex((_, j) => j !== i && has(j));
      (where >= 0 ? misplaced : lost).push(
        `cell ${i}: ${marker} (${type})${where >= 0 ? ` under cell ${where}` : ""}`,
      );
    }
  });
  return { misplaced, lost };
}

/** Markers missing from the executed notebook, as "cell i: marker (type)". */
export function missingOutputs(executed: { cells: Cell[] }, expected: Expected[]): string[] {
  const missing: string[] = [];
  expected.forEach((e, i) => {
    const outs = executed.cells[i].outputs ?? [];
    for (const [marker, type] of e) {
      if (!outs.some((o) => o.output_type === type && outputText(o).includes(marker))) {
        missing.push(`cell ${i}: ${marker} (${type})`);
      }
    }
  });
  return missing;
}
