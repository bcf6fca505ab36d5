/**
 * Result tables over several training seeds: each row's metrics as mean ± sample sd, and
 * claims that say "within noise" when a difference of means is under one standard deviation.
 * The rows are built per seed by the usual builders (`measuredTable1Rows`, `ablationRow`,
 * `orthoAblationRow`) and then combined, so the seed tables have the single-seed layout.
 *
 * @module
 */
import { InputError } from "../io/errors.ts";
import type { TableColumn, TableColumnSpec, TableRow } from "../viz/table.ts";

/** The metric columns of the results tables that get a ± sd. */
export const SEED_METRIC_KEYS: readonly string[] = [
  "maxBoxAcc",
  "maxBoxAccV2",
  "top1Loc",
  "top5Loc",
  "gtKnownLoc",
  "top1Cls",
  "top5Cls",
];

/** Mean and sample standard deviation (n − 1; 0 for a single value) of some numbers. */
export function meanSd(xs: readonly number[]): { mean: number; sd: number; n: number } {
  if (xs.length === 0) throw new InputError("meanSd: no values");
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1
    ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1))
    : 0;
  return { mean, sd, n: xs.length };
}

/**
 * Combine one table per seed (same rows in the same order) into one table: numeric cells
 * become their mean over seeds, each metric of `keys` also gets `<key>Sd` (only with more
 * than one seed: a single seed's table comes back as it is, printed without ± 0.0), and
 * `seeds` holds the number of seeds. Text cells must agree across seeds (they name the row).
 *
 * @example
 * ```ts
 * const rows = meanOverSeeds(records.map((r) => measuredTable1Rows(r.rows, "CUB-50", "MobileNet")));
 * await displayTable(rows, seedColumns(TABLE1_COLUMNS));
 * ```
 */
export function meanOverSeeds(
  perSeed: readonly TableRow[][],
  keys: readonly string[] = SEED_METRIC_KEYS,
): TableRow[] {
  if (perSeed.length === 0) throw new InputError("meanOverSeeds: no seeds");
  const first = perSeed[0];
  for (const t of perSeed) {
    if (t.length !== first.length) {
      throw new InputError(`meanOverSeeds: tables of ${first.length} and ${t.length} rows`);
    }
  }
  return first.map((row, i) => {
    const out: TableRow = { ...row, seeds: perSeed.length };
    for (const [k, v] of Object.entries(row)) {
      const cells = perSeed.map((t) => t[i][k]);
      if (typeof v === "number") {
        if (cells.some((c) => typeof c !== "number")) continue; // missing in a seed: keep seed 0's
        const s = meanSd(cells as number[]);
        out[k] = s.mean;
        if (keys.includes(k) && perSeed.length > 1) out[`${k}Sd`] = s.sd;
      } else if (v !== null && v !== undefined && cells.some((c) => c !== v)) {
        throw new InputError(
          `meanOverSeeds: row ${i} differs between seeds in '${k}' (${cells.join(" / ")})`,
        );
      }
    }
    return out;
  });
}

/**
 * The table's columns with "mean ± sd" cells wherever a row carries `<key>Sd` (rows from
 * {@link meanOverSeeds}); other rows keep the column's own format. `sdColumns` appends a
 * `<key>Sd` column per metric (for CSV files, which keep raw values, not the formatted text).
 */
export function seedColumns(
  columns: readonly TableColumnSpec[],
  opts: { sdColumns?: boolean } = {},
): TableColumn[] {
  const cols = columns.map((c) => {
    const col: TableColumn = typeof c === "string" ? { key: c } : { ...c };
    const own = col.format;
    const digits = col.digits ?? 1;
    col.format = (v, row) => {
      const sd = row[`${col.key}Sd`];
      if (typeof v === "number" && typeof sd === "number") {
        return `${v.toFixed(digits)} ± ${sd.toFixed(digits)}`;
      }
      if (own) return own(v, row);
      if (v === null || v === undefined) return "–";
      return typeof v === "number" && !Number.isInteger(v) ? v.toFixed(digits) : String(v);
    };
    return col;
  });
  if (!opts.sdColumns) return cols;
  const sds = cols.filter((c) => SEED_METRIC_KEYS.includes(c.key))
    .map((c) => ({ key: `${c.key}Sd`, label: `${c.label ?? c.key} sd`, digits: c.digits }));
  return [...cols, { key: "seeds", label: "seeds" }, ...sds];
}

/** One side of a claim: a metric's mean and sd over seeds (sd 0 for one seed). */
export interface SeedValue {
  mean: number;
  sd: number;
}

/**
 * Check the claim "a > b" on means over seeds: `yes` / `NO`, or `within noise` when the
 * difference of the means is under one standard deviation (the larger of the two). With a
 * single seed (both sd 0) it is a plain comparison.
 *
 * @example
 * ```ts
 * seedClaim({ mean: 69.4, sd: 0.6 }, { mean: 69.0, sd: 0.3 }).holds; // "within noise"
 * ```
 */
export function seedClaim(a: SeedValue, b: SeedValue): { measured: string; holds: string } {
  const noise = Math.max(a.sd, b.sd);
  const cell = (x: SeedValue) =>
    noise > 0 ? `${x.mean.toFixed(1)} ± ${x.sd.toFixed(1)}` : x.mean.toFixed(1);
  const holds = noise > 0 && Math.abs(a.mean - b.mean) < noise
    ? "within noise"
    : a.mean > b.mean
    ? "yes"
    : "NO";
  return { measured: `${cell(a)} vs ${cell(b)}`, holds };
}
