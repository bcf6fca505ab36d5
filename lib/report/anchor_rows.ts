/**
 * Table 5 rows with their anchors' geometry: each config's anchors as its model uses them
 * (the run's raw anchors → fixed projection → `anchors.ortho`), described by mean cosine,
 * mean nearest-neighbour cosine and effective rank (lib/text `anchorGeometry`), beside the
 * row's box metrics.
 *
 * @module
 */
import type { RunConfig } from "../config/schema.ts";
import type { BoxMetrics } from "../metrics/box.ts";
import { buildAnchorSpace } from "../model/anchor_space.ts";
import { type AnchorGeometry, anchorGeometry } from "../text/analysis.ts";
import { loadRunInputs } from "../run/inputs.ts";
import type { TableColumnSpec, TableRow } from "../viz/table.ts";
import { ABLATION_COLUMNS, ablationRow, numberColumn } from "./tables.ts";

/** The geometry of one config's anchors and what they are. */
export interface ConfigAnchorGeometry extends AnchorGeometry {
  /** `anchors.ortho` of the config. */
  ortho: string;
  count: number;
  /** Dimension of the anchors the model uses (after projection / lift). */
  dim: number;
  /** Where the raw anchors come from (anchors file `source`). */
  source: string;
}

/**
 * The geometry of the anchors a config's model uses: the run's raw anchors (for CUB-50's
 * `none`, the uncentred attribute vectors; for `centre`, the centred ones) through the fixed
 * projection and `anchors.ortho`. Loads the config's inputs (shared with its runs).
 *
 * @example
 * ```ts
 * const g = await configAnchorGeometry(await resolveRunConfig({ file: "configs/cub50/ortho-none.json" }));
 * console.log(g.meanCosine, g.nearestCosine, g.effectiveRank);
 * ```
 */
export async function configAnchorGeometry(cfg: RunConfig): Promise<ConfigAnchorGeometry> {
  const inputs = await loadRunInputs(cfg);
  const space = buildAnchorSpace(inputs.anchors, cfg.anchors);
  return {
    ...anchorGeometry(space.vectors, space.count, space.dim),
    ortho: cfg.anchors.ortho,
    count: space.count,
    dim: space.dim,
    source: inputs.anchors.source,
  };
}

/** An ablation row ({@link ablationRow}) with its anchors' geometry beside the metrics. */
export function orthoAblationRow(
  source: string,
  variant: string,
  m: BoxMetrics,
  g: AnchorGeometry,
): TableRow {
  return {
    ...ablationRow(source, variant, m),
    meanCos: g.meanCosine,
    nnCos: g.nearestCosine,
    effRank: g.effectiveRank,
  };
}

/** Columns of Table 5 with geometry: the ablation columns, then mean cos, NN cos, eff. rank. */
export const ORTHO_GEOMETRY_COLUMNS: TableColumnSpec[] = [
  ...ABLATION_COLUMNS,
  numberColumn("meanCos", "anchors: mean cos", 3),
  numberColumn("nnCos", "anchors: NN cos", 3),
  numberColumn("effRank", "anchors: eff. rank", 1),
];
