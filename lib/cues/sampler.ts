/**
 * The FG/BG patch sampler: per image and per step, FG patches are drawn among the top
 * fraction of the cue map with probability ∝ cue value, BG patches uniformly among the
 * bottom fraction; everything else is ignored. All draws are without replacement and
 * come from a seeded {@link Rng}.
 *
 * The authors' seeders, as method.md states them, take FG from the top 60 % and BG from the
 * bottom 10 %; 60 % makes L_KD alone learn a too-broad map here, so the default (the run
 * config's, chosen on validation images) is the top 20 % with 8 + 8 patches, and the
 * fractions are configuration, reported with every run.
 *
 * @module
 */
import { DEFAULT_RUN_CONFIG, type SamplerSection } from "../config/schema.ts";
import type { Rng } from "../util/rng.ts";

/** Sampler settings (the run config's `sampler` section, documented there). */
export type SamplerConfig = SamplerSection;

/** Defaults (from the run config's one place for them): top 20 % / bottom 10 %, 8 + 8 patches. */
export const DEFAULT_SAMPLER: SamplerConfig = { ...DEFAULT_RUN_CONFIG.sampler };

/** Throw a clear error for impossible sampler settings. */
export function validateSamplerConfig(c: SamplerConfig): void {
  for (const k of ["fgFraction", "bgFraction"] as const) {
    if (!(c[k] > 0 && c[k] <= 1)) throw new Error(`sampler: ${k} must be in (0, 1], got ${c[k]}`);
  }
  for (const k of ["fgCount", "bgCount"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) {
      throw new Error(`sampler: ${k} must be an integer ≥ 0, got ${c[k]}`);
    }
  }
}

/** Patch indices of one image. */
export interface PatchSample {
  fg: number[];
  bg: number[];
}

/**
 * Draw FG and BG patches from one cue map (length N). Candidate sets: the
 * `round(fgFraction·N)` highest and the `round(bgFraction·N)` lowest patches (at least
 * one each; ties broken by index); when the fractions overlap, BG candidates exclude FG
 * ones. FG draws are weighted by cue value (uniform when all candidates are 0).
 *
 * @example
 * ```ts
 * const { fg, bg } = sampleFgBg(cueMap, DEFAULT_SAMPLER, new Rng(0));
 * ```
 */
export function sampleFgBg(map: ArrayLike<number>, cfg: SamplerConfig, rng: Rng): PatchSample {
  const N = map.length;
  const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => map[b] - map[a] || a - b);
  const nFg = Math.min(N, Math.max(1, Math.round(cfg.fgFraction * N)));
  const nBg = Math.min(N - nFg, Math.max(1, Math.round(cfg.bgFraction * N)));
  const fgCand = order.slice(0, nFg);
  const bgCand = nBg > 0 ? order.slice(N - nBg) : [];
  // weighted draws without replacement
  const weights = fgCand.map((i) => Math.max(0, map[i]));
  const fg: number[] = [];
  const k = Math.min(cfg.fgCount, fgCand.length);
  let total = weights.reduce((a, b) => a + b, 0);
  for (let t = 0; t < k; t++) {
    let pick = -1;
    if (total > 1e-12) {
      let u = rng.next() * total;
      for (let j = 0; j < weights.length; j++) {
        if (weights[j] <= 0) continue;
        u -= weights[j];
        pick = j;
        if (u < 0) break;
      }
    } else {
      // all remaining weights are zero: uniform among the remaining candidates
      const left = fgCand.map((_, j) => j).filter((j) => weights[j] >= 0);
      pick = left[rng.int(left.length)];
    }
    fg.push(fgCand[pick]);
    total -= Math.max(0, weights[pick]);
    weights[pick] = -1; // removed
  }
  const bgPool = [...bgCand];
  const bg: number[] = [];
  const kb = Math.min(cfg.bgCount, bgPool.length);
  for (let t = 0; t < kb; t++) {
    const j = t + rng.int(bgPool.length - t);
    [bgPool[t], bgPool[j]] = [bgPool[j], bgPool[t]];
    bg.push(bgPool[t]);
  }
  return { fg, bg };
}

/** Mirror a row-major `gh×gw` map left–right (for a horizontally flipped view). */
export function flipMapHorizontal(map: ArrayLike<number>, gh: number, gw: number): Float32Array {
  const out = new Float32Array(gh * gw);
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < gw; x++) out[y * gw + x] = map[y * gw + (gw - 1 - x)];
  }
  return out;
}

/**
 * FG/BG weight masks `[B, N]` (1 = sampled) for a batch: `cueRows[i]` is the row of
 * image i in `cues.maps`; `flipped[i]` mirrors its map first (flip views).
 */
export function sampleBatchMasks(
  maps: Float32Array,
  grid: [number, number],
  cueRows: number[],
  cfg: SamplerConfig,
  rng: Rng,
  flipped?: boolean[],
): { fg: Float32Array; bg: Float32Array } {
  const [gh, gw] = grid, N = gh * gw, B = cueRows.length;
  const fg = new Float32Array(B * N), bg = new Float32Array(B * N);
  for (let i = 0; i < B; i++) {
    let m: ArrayLike<number> = maps.subarray(cueRows[i] * N, (cueRows[i] + 1) * N);
    if (flipped?.[i]) m = flipMapHorizontal(m, gh, gw);
    const s = sampleFgBg(m, cfg, rng);
    for (const p of s.fg) fg[i * N + p] = 1;
    for (const p of s.bg) bg[i * N + p] = 1;
  }
  return { fg, bg };
}
