/**
 * Trained models of a finished experiment run, for the notebooks' maps and latency.
 *
 * Same files as `loadExperimentModels` (lib/train/experiment.ts), which at the time of
 * writing fails on the CAM weights (it walks the safetensors `Map` with `Object.entries`,
 * which yields nothing). This tries it first and falls back to reading the files here.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { readSafetensors, toFloat32 } from "../io/safetensors.ts";
import { CamHead } from "../model/baselines.ts";
import type { TedLocModel } from "../model/tedloc.ts";
import { loadTedLocCheckpoint } from "../train/checkpoint.ts";
import {
  type ExperimentContext,
  experimentOptions,
  experimentRunDir,
  type ExperimentVariant,
  loadExperimentModels,
} from "../train/experiment.ts";

/**
 * The TeD-Loc model and CAM head of a finished run; the caller disposes both.
 *
 * @example
 * ```ts
 * await runExperiments(ctx, ["main"]);
 * const { model, cam } = await loadRunModels(ctx, "main");
 * ```
 */
export async function loadRunModels(
  ctx: ExperimentContext,
  variant: ExperimentVariant = "main",
): Promise<{ model: TedLocModel; cam: CamHead }> {
  try {
    return await loadExperimentModels(ctx, variant);
  } catch (err) {
    if (err instanceof InputError) throw err; // no finished run: nothing to fall back to
  }
  const dir = experimentRunDir(ctx, variant);
  const rounds = experimentOptions(ctx, variant).rounds ?? 1;
  const { model } = await loadTedLocCheckpoint(
    join(dir, ...(rounds > 1 ? [`round${rounds}`] : []), "last.safetensors"),
  );
  const f = await readSafetensors(join(dir, "cam.safetensors"));
  const cam = new CamHead(ctx.encoder.dim, ctx.anchors.count);
  cam.setWeights(
    Object.fromEntries(
      [...f.tensors].map(([n, t]) => [n, { shape: t.shape, data: toFloat32(t) }]),
    ),
  );
  return { model, cam };
}
