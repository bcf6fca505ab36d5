/**
 * Table rows for the notebooks: our measured rows and the paper's printed rows in one
 * layout, each labelled by where it comes from ("measured here (<dataset>, <backbone>)" or
 * "reported (paper, <backbone>)"), with the column specs for `displayTable`/`writeTable`.
 *
 * @module
 */
import type { BoxMetrics } from "../metrics/box.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { displayBundle } from "../viz/display.ts";
import { escapeXml } from "../viz/encode.ts";
import {
  type TableColumn,
  type TableColumnSpec,
  tableCsv,
  tableHtml,
  tableMarkdown,
  type TableRow,
} from "../viz/table.ts";
import { PAPER_TABLE1 } from "./paper.ts";

/** The parts of a results row (`PipelineRow`, or a results.json row) the tables use. */
export interface MeasuredRow {
  method: string;
  metrics: BoxMetrics;
  params: { total: number };
  msPerImage: number;
}

/** Readable method names for our rows. */
export const METHOD_LABELS: Readonly<Record<string, string>> = {
  tedloc: "TeD-Loc (ours)",
  "tedloc+flip": "TeD-Loc + test-time flip (ours, extension)",
  cam: "CAM",
  "cam+flip": "CAM + test-time flip",
  vanilla: "vanilla <z_p, t_y>",
  "center-prior": "centre-Gaussian prior",
};

/** The label of a measured row: `measured here (<dataset>, <backbone>)`. */
export function measuredLabel(dataset: string, backbone: string): string {
  return `measured here (${dataset}, ${backbone})`;
}

/** The label of a paper row: `reported (paper, <backbone>)`. */
export function reportedLabel(backbone: string): string {
  return `reported (paper, ${backbone})`;
}

/**
 * Table 1 rows from our measured rows. Metrics a row lacks (the prior has no classes) stay
 * empty; the prior has no parameters and no run time.
 *
 * @example
 * ```ts
 * const rows = measuredTable1Rows(result.rows, "embedded default", "MobileNet v1 0.25");
 * await displayTable(rows, TABLE1_COLUMNS);
 * ```
 */
export function measuredTable1Rows(
  rows: readonly MeasuredRow[],
  dataset: string,
  backbone: string,
): TableRow[] {
  return rows.map((r) => {
    const m = r.metrics;
    const isPrior = r.method === "center-prior";
    return {
      source: measuredLabel(dataset, isPrior ? "no network" : backbone),
      method: METHOD_LABELS[r.method] ?? r.method,
      maxBoxAcc: m.maxBoxAcc,
      maxBoxAccV2: m.maxBoxAccV2,
      top1Loc: m.top1Loc ?? null,
      top5Loc: m.top5Loc ?? null,
      gtKnownLoc: m.gtKnownLoc,
      top1Cls: m.top1Cls ?? null,
      top5Cls: m.top5Cls ?? null,
      paramsM: isPrior ? null : r.params.total / 1e6,
      msPerImage: isPrior ? null : r.msPerImage,
    };
  });
}

/**
 * The paper's Table 1 rows for one dataset in the same layout. Each number sits in the
 * column its source gives (see `PAPER_TABLE1`): MaxBoxAcc stays empty where the source
 * gives GT-known Loc instead. The row's `notes` (footnotes: what the TeD-Loc paper prints,
 * what was not checked) are rendered by {@link footnotedMarkdown} / {@link footnotedCsv}.
 * `methods` filters by name (default: all).
 */
export function paperTable1Rows(
  dataset: "cub" | "ilsvrc",
  methods?: readonly string[],
): TableRow[] {
  return PAPER_TABLE1.filter((r) => !methods || methods.includes(r.method)).map((r) => {
    const n = r[dataset];
    return {
      source: reportedLabel(r.backbone),
      method: `${r.method} (${dataset === "cub" ? "CUB-200" : "ILSVRC"})`,
      maxBoxAcc: n.maxBoxAcc,
      maxBoxAccV2: null,
      top1Loc: n.top1Loc,
      top5Loc: n.top5Loc,
      gtKnownLoc: n.gtKnownLoc ?? null,
      top1Cls: null,
      top5Cls: null,
      paramsM: null,
      msPerImage: null,
      notes: [...(n.notes ?? [])],
    };
  });
}

/** The row key holding a row's footnotes (an array of strings). */
export const NOTES_KEY = "notes";

function rowNotes(row: TableRow): string[] {
  const v = row[NOTES_KEY];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/**
 * Number the distinct footnotes of `rows` (first appearance first) and mark each row's
 * `markKey` cell with its numbers (`TS-CAM (CUB-200) [1]`). Returns the marked rows and the
 * numbered notes.
 */
export function numberFootnotes(
  rows: readonly TableRow[],
  markKey = "method",
): { rows: TableRow[]; notes: string[] } {
  const notes: string[] = [];
  const marked = rows.map((r) => {
    const nums = rowNotes(r).map((t) => {
      let i = notes.indexOf(t);
      if (i < 0) i = notes.push(t) - 1;
      return i + 1;
    });
    if (nums.length === 0) return r;
    return { ...r, [markKey]: `${r[markKey] ?? ""} ${nums.map((k) => `[${k}]`).join("")}` };
  });
  return { rows: marked, notes };
}

/**
 * A Markdown table whose rows may carry footnotes (`row.notes`): the `markKey` cell gets
 * `[k]` markers and the notes follow the table as `[k] text` lines.
 *
 * @example
 * ```ts
 * footnotedMarkdown(paperTable1Rows("cub"), TABLE1_COLUMNS);
 * // | … | TS-CAM (CUB-200) [2] | – | … |
 * //
 * // [2] TS-CAM's README gives Loc.Acc@1 71.3 / …
 * ```
 */
export function footnotedMarkdown(
  rows: readonly TableRow[],
  columns?: TableColumnSpec[],
  markKey = "method",
): string {
  const { rows: marked, notes } = numberFootnotes(rows, markKey);
  const md = tableMarkdown(marked, columns);
  if (notes.length === 0) return md;
  return md + "\n" + notes.map((t, i) => `[${i + 1}] ${t}`).join("\n\n") + "\n";
}

/**
 * A CSV table with one more column, `notes`: each row's footnotes joined by " | " (numbers
 * stay at full precision in their own columns, unmarked).
 */
export function footnotedCsv(rows: readonly TableRow[], columns?: TableColumnSpec[]): string {
  const cols: TableColumnSpec[] = columns && columns.length > 0
    ? columns
    : [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => k !== NOTES_KEY);
  return tableCsv(
    rows.map((r) => ({ ...r, [NOTES_KEY]: rowNotes(r).join(" | ") || null })),
    [...cols, { key: NOTES_KEY, label: "notes" }],
  );
}

/**
 * Write `basePath.md` ({@link footnotedMarkdown}) and `basePath.csv` ({@link footnotedCsv})
 * atomically; returns both paths. Use it in place of `writeTable` for tables with paper rows.
 */
export async function writeFootnotedTable(
  basePath: string,
  rows: readonly TableRow[],
  columns?: TableColumnSpec[],
): Promise<{ md: string; csv: string }> {
  const base = basePath.replace(/\.(md|csv)$/i, "");
  const md = `${base}.md`, csv = `${base}.csv`;
  await writeTextAtomic(md, footnotedMarkdown(rows, columns));
  await writeTextAtomic(csv, footnotedCsv(rows, columns));
  return { md, csv };
}

/**
 * Show a table with footnotes in a notebook: the table (markers in the method cell) with
 * its notes below, as HTML, Markdown and plain text.
 */
export async function displayFootnotedTable(
  rows: readonly TableRow[],
  columns?: TableColumnSpec[],
  opts: { caption?: string } = {},
): Promise<void> {
  const { rows: marked, notes } = numberFootnotes(rows);
  const md = footnotedMarkdown(rows, columns);
  const withCaption = opts.caption ? `**${opts.caption}**\n\n${md}` : md;
  const noteHtml = notes.map((t, i) => `<p><small>[${i + 1}] ${escapeXml(t)}</small></p>`)
    .join("\n");
  await displayBundle({
    "text/html": tableHtml(marked, columns, opts) + "\n" + noteHtml,
    "text/markdown": withCaption,
    "text/plain": withCaption,
  });
}

/**
 * A numeric column always shown with `digits` decimals (also for whole numbers, so a column
 * of percentages lines up: `50.0`, not `50`); missing values show "–".
 *
 * @example
 * ```ts
 * await displayTable(rows, ["method", numberColumn("maxBoxAcc", "MaxBoxAcc", 1)]);
 * ```
 */
export function numberColumn(key: string, label: string, digits: number): TableColumn {
  return {
    key,
    label,
    digits,
    format: (v) => typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–",
  };
}

/** The box metrics every results table starts with. */
const BOX_COLUMNS: TableColumnSpec[] = [
  numberColumn("maxBoxAcc", "MaxBoxAcc", 1),
  numberColumn("maxBoxAccV2", "MaxBoxAccV2", 1),
  numberColumn("top1Loc", "Top-1 Loc", 1),
  numberColumn("top5Loc", "Top-5 Loc", 1),
];

/** Columns of the Table 1 layout. */
export const TABLE1_COLUMNS: TableColumnSpec[] = [
  { key: "source", label: "source" },
  { key: "method", label: "method" },
  ...BOX_COLUMNS,
  numberColumn("gtKnownLoc", "GT-known Loc", 1),
  numberColumn("top1Cls", "Top-1 cls", 1),
  numberColumn("top5Cls", "Top-5 cls", 1),
  numberColumn("paramsM", "params (M)", 3),
  numberColumn("msPerImage", "ms/img", 2),
];

/** Columns of an ablation table (one row per variant). */
export const ABLATION_COLUMNS: TableColumnSpec[] = [
  { key: "source", label: "source" },
  { key: "variant", label: "variant" },
  ...BOX_COLUMNS,
  numberColumn("top1Cls", "Top-1 cls", 1),
];

/** One ablation-table row from a variant's TeD-Loc metrics. */
export function ablationRow(source: string, variant: string, m: BoxMetrics): TableRow {
  return {
    source,
    variant,
    maxBoxAcc: m.maxBoxAcc,
    maxBoxAccV2: m.maxBoxAccV2,
    top1Loc: m.top1Loc ?? null,
    top5Loc: m.top5Loc ?? null,
    top1Cls: m.top1Cls ?? null,
  };
}

/**
 * The Table 1 row of a cue scored alone (lib/run `evaluateCueAlone`): MaxBoxAcc, V2 and
 * GT-known Loc; no classes, parameters or run time of its own.
 *
 * @example
 * ```ts
 * table1.push(cueAloneTable1Row(await evaluateCueAlone(cfg), "CUB-50", "MobileNet v1 0.75"));
 * ```
 */
export function cueAloneTable1Row(
  cue: { recipe: string; metrics: BoxMetrics },
  dataset: string,
  backbone: string,
): TableRow {
  const m = cue.metrics;
  return {
    source: measuredLabel(dataset, backbone),
    method: `pseudo-label cue alone (${cue.recipe})`,
    maxBoxAcc: m.maxBoxAcc,
    maxBoxAccV2: m.maxBoxAccV2,
    top1Loc: null,
    top5Loc: null,
    gtKnownLoc: m.gtKnownLoc,
    top1Cls: null,
    top5Cls: null,
    paramsM: null,
    msPerImage: null,
  };
}
