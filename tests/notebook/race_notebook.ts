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

/**
 * 40 code cells cycling through: a bare expression (execute_result), a Deno.jupyter.display
 * call (display_data), a console.log (stream), and all three in one cell.
 */
export function raceNotebook(n = 40): { json: string; expected: Expected[] } {
  const cells: Cell[] = [];
  const expected: Expected[] = [];
  for (let i = 0; i < n; i++) {
    const expr = `"expr-${i}"`;
    const display = `Deno.jupyter.display({ "text/plain": "display-${i}" }, { raw: true });`;
    const log = `console.log("log-${i}");`;
    const kind = i % 4;
    const lines = kind === 0
      ? [expr]
      : kind === 1
      ? [display]
      : kind === 2
      ? [log]
      : [log, display, expr];
    cells.push(code(i, lines.join("\n")));
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
