/**
 * Table rows for the notebooks: our measured rows and the paper's printed rows in one
 * layout, each labelled by where it comes from ("measured here (<dataset>, <backbone>)" or
 * "reported (paper, <backbone>)"), with the column specs for `displayTable`/`writeTable`.
 *
 * @module
 */
import type { BoxMetrics } from "../metrics/box.ts";
import type { TableColumn, TableColumnSpec, TableRow } from "../viz/table.ts";
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
 * The paper's Table 1 rows for one dataset in the same layout (MaxBoxAcc, Top-1/Top-5 Loc
 * only: the paper prints nothing else there). `methods` filters by name (default: all).
 */
export function paperTable1Rows(
  dataset: "cub" | "ilsvrc",
  methods?: readonly string[],
): TableRow[] {
  return PAPER_TABLE1.filter((r) => !methods || methods.includes(r.method)).map((r) => ({
    source: reportedLabel(r.backbone),
    method: `${r.method} (${dataset === "cub" ? "CUB-200" : "ILSVRC"})`,
    maxBoxAcc: r[dataset].maxBoxAcc,
    maxBoxAccV2: null,
    top1Loc: r[dataset].top1Loc,
    top5Loc: r[dataset].top5Loc,
    gtKnownLoc: r[dataset].maxBoxAcc,
    top1Cls: null,
    top5Cls: null,
    paramsM: null,
    msPerImage: null,
  }));
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
