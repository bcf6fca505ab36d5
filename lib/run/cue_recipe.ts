/**
 * Cue recipes: `inet5*cam*prior`, `cam+prior`, `files:DIR`… — terms joined by `*` (product)
 * and `+` (mean, lower precedence). {@link parseCueRecipe} checks a recipe before any slow
 * work; {@link cueRecipeSources} turns it into {@link CueSource}s, one per term, so every cue
 * producer goes through the same interface.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import type { ProgressOptions } from "../util/progress.ts";
import type { WsolDataset } from "../data/dataset.ts";
import type { PatchEncoder } from "../model/encoder.ts";
import type { TfjsCnnClassifier } from "../model/mobilenet.ts";
import type { CamHead } from "../model/baselines.ts";
import type { CueSet } from "../cues/cues.ts";
import {
  camCueSource,
  centerPriorCueSource,
  combineCueSets,
  type CueRequest,
  type CueSource,
  fileCueSource,
  pcaCueSource,
} from "../cues/sources.ts";
import { extractAttentionCues, extractCamCues } from "../train/cue_cache.ts";

/** One term of a recipe. */
export type CueTerm =
  | { kind: "inet"; topK: number }
  | { kind: "cam" }
  | { kind: "prior" }
  | { kind: "pca" }
  | { kind: "attention" }
  | { kind: "files"; dir: string };

/** A parsed recipe: the mean of products of terms. */
export type CueRecipe = CueTerm[][];

/**
 * Parse a recipe; throws one line naming the bad term.
 *
 * @example
 * ```ts
 * parseCueRecipe("inet5*cam + prior"); // [[{kind:"inet",topK:5},{kind:"cam"}],[{kind:"prior"}]]
 * ```
 */
export function parseCueRecipe(recipe: string): CueRecipe {
  const sums = recipe.split("+").map((s) => s.trim());
  if (sums.length === 0 || sums.every((s) => s === "")) {
    throw new InputError(`empty cue recipe '${recipe}'`);
  }
  return sums.map((part) => {
    const factors = part.split("*").map((s) => s.trim());
    if (part === "" || factors.some((f) => f === "")) {
      throw new InputError(`empty cue term in '${recipe}'`);
    }
    return factors.map(parseTerm);
  });
}

function parseTerm(t: string): CueTerm {
  const inet = /^inet(\d+)$/.exec(t);
  if (inet) {
    const topK = Number(inet[1]);
    if (topK < 1 || topK > 1000) throw new InputError(`cue '${t}': k must be in 1..1000`);
    return { kind: "inet", topK };
  }
  if (t === "cam" || t === "prior" || t === "pca" || t === "attention") return { kind: t };
  if (t.startsWith("files:") && t.length > 6) return { kind: "files", dir: t.slice(6) };
  throw new InputError(
    `unknown cue '${t}' (use inet<k>, cam, prior, pca, attention, files:<dir>)`,
  );
}

/** What building a recipe's sources needs. */
export interface CueContext {
  dataset: WsolDataset;
  encoder: PatchEncoder;
  classifier?: TfjsCnnClassifier;
  /** The CAM baseline (for the `cam` term). */
  cam?: CamHead;
  /** Split the cues are for (default `train`). */
  split?: string;
  workers?: number;
  /** Parent of the cue caches (`<cacheDir>/cues`). */
  cacheDir?: string;
  progress?: ProgressOptions | false;
}

/** The {@link CueSource} of one term. */
export function cueTermSource(term: CueTerm, ctx: CueContext): CueSource {
  const split = ctx.split ?? "train";
  switch (term.kind) {
    case "inet": {
      const classifier = ctx.classifier;
      if (!classifier) throw new InputError(`cue 'inet${term.topK}' needs an ImageNet classifier`);
      return {
        name: `inet${term.topK}`,
        produce: () =>
          extractCamCues(classifier, ctx.dataset, split, {
            topK: term.topK,
            target: ctx.encoder,
            workers: ctx.workers,
            cacheDir: ctx.cacheDir === undefined ? undefined : join(ctx.cacheDir, "cues"),
            progress: ctx.progress,
          }),
      };
    }
    case "cam":
      if (!ctx.cam) throw new InputError("cue 'cam' needs the CAM baseline");
      return camCueSource(ctx.cam);
    case "prior":
      return centerPriorCueSource();
    case "pca":
      return pcaCueSource();
    case "attention":
      return {
        name: "attention",
        produce: () =>
          extractAttentionCues(ctx.encoder, ctx.dataset, split, {
            workers: ctx.workers,
            progress: ctx.progress,
          }),
      };
    case "files":
      return fileCueSource(term.dir);
  }
}

/**
 * The cue maps of a recipe for `request` (products first, then the mean of the products).
 *
 * @example
 * ```ts
 * const cues = await buildCues(parseCueRecipe("inet5*cam*prior"), ctx, { ids, grid, labels, features });
 * ```
 */
export async function buildCues(
  recipe: CueRecipe,
  ctx: CueContext,
  request: CueRequest,
): Promise<CueSet> {
  const sums: CueSet[] = [];
  for (const product of recipe) {
    const factors: CueSet[] = [];
    for (const term of product) factors.push(await cueTermSource(term, ctx).produce(request));
    sums.push(factors.length === 1 ? factors[0] : combineCueSets(factors, "product"));
  }
  return sums.length === 1 ? sums[0] : combineCueSets(sums, "mean");
}

/** Whether a recipe reads the CAM baseline. */
export function recipeUsesCam(recipe: CueRecipe): boolean {
  return recipe.some((p) => p.some((t) => t.kind === "cam"));
}
