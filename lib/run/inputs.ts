/**
 * The inputs a run config names — dataset, frozen encoder, ImageNet classifier (for `inet<k>`
 * cues), raw anchors — loaded once per process and shared by every config that names the
 * same ones, with the identity of that data (`dataKey`) that run keys include.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { projectPath, sharedDataPath } from "../util/paths.ts";
import type { WsolDataset } from "../data/dataset.ts";
import { loadDataset } from "../data/dataset.ts";
import { cubRootFromEnv, ensurePreparedCub } from "../data/cub.ts";
import { ensureDefaultDataset } from "../data/synthetic.ts";
import { type Anchors, readAnchors, writeAnchors } from "../text/anchors.ts";
import {
  attributeAnchors,
  findCubIdList,
  readAttributeMatrix,
  readClassList,
} from "../text/sources.ts";
import type { PatchEncoder } from "../model/encoder.ts";
import { DEFAULT_MOBILENET_DIR, TfjsCnnClassifier, TfjsCnnEncoder } from "../model/mobilenet.ts";
import { VitEncoder } from "../model/vit.ts";
import { contentKey } from "../config/identity.ts";
import type { RunConfig } from "../config/schema.ts";

/** What a config's run reads besides its config. */
export interface RunInputs {
  dataset: WsolDataset;
  encoder: PatchEncoder;
  /** ImageNet classifier of the encoder's model, when the cue recipe needs it (`inet<k>`). */
  classifier?: TfjsCnnClassifier;
  anchors: Anchors;
  /** Identity of the data: dataset descriptor, anchor vectors, encoder id and weights. */
  dataKey: string;
  /** Short name of the data, for run folders (`runs/<dataName>/…`). */
  dataName: string;
  /** Human-readable description (dataset sizes, backbone, anchors). */
  description: string;
}

const loaded = new Map<string, Promise<RunInputs>>();

/** The part of a config that selects the inputs. */
function inputsSelector(cfg: RunConfig) {
  return {
    dataset: cfg.dataset.kind === "default"
      ? { kind: "default", profile: cfg.dataset.profile }
      : { kind: cfg.dataset.kind, path: cfg.dataset.path },
    encoder: cfg.encoder,
    anchors: cfg.anchors.file,
    classifier: /\binet\d+/.test(cfg.cues.recipe),
  };
}

/**
 * The inputs of a config, loaded on first use and shared afterwards (the encoder and
 * classifier stay loaded until {@link disposeRunInputs}).
 *
 * @example
 * ```ts
 * const inputs = await loadRunInputs(await resolveRunConfig({ profile: "ci" }));
 * ```
 */
export function loadRunInputs(cfg: RunConfig): Promise<RunInputs> {
  const key = JSON.stringify(inputsSelector(cfg));
  let p = loaded.get(key);
  if (!p) {
    p = loadFresh(cfg);
    p.catch(() => loaded.delete(key));
    loaded.set(key, p);
  }
  return p;
}

/** Free every loaded encoder and classifier. */
export async function disposeRunInputs(): Promise<void> {
  const all = [...loaded.values()];
  loaded.clear();
  for (const p of all) {
    const inputs = await p.catch(() => null);
    inputs?.encoder.dispose();
    inputs?.classifier?.dispose();
  }
}

async function loadFresh(cfg: RunConfig): Promise<RunInputs> {
  const { dataset, anchors, mobilenetDir, title, dataName, anchorKind } = await loadData(cfg);
  const modelDir = cfg.encoder.model ?? mobilenetDir;
  // a .safetensors file is a timm-named ViT (tokens after the final norm; `layer` unused)
  const vit = modelDir.endsWith(".safetensors");
  if (vit && inputsSelector(cfg).classifier) {
    throw new InputError(
      `cues '${cfg.cues.recipe}': inet<k> needs a tfjs ImageNet classifier, not a ViT ` +
        `(${modelDir}); use cam, attention, pca or prior terms`,
    );
  }
  const encoder = vit
    ? await VitEncoder.load(modelDir)
    : await TfjsCnnEncoder.load(modelDir, { layer: cfg.encoder.layer });
  const classifier = inputsSelector(cfg).classifier
    ? await TfjsCnnClassifier.load(modelDir)
    : undefined;
  if (anchors.count !== dataset.classNames.length) {
    throw new InputError(
      `${anchors.count} anchors for ${dataset.classNames.length} classes of ${dataset.name}`,
      { file: cfg.anchors.file ?? dataset.anchorsPath ?? undefined },
    );
  }
  const descriptor = await Deno.readTextFile(join(dataset.root, "dataset.json")).catch(() => "");
  const dataKey = await contentKey({
    dataset: descriptor,
    anchors: [anchors.classNames, anchors.dim, Array.from(anchors.vectors)],
    encoder: [encoder.id, encoder.fingerprint ?? null],
  });
  const splits = dataset.splits;
  return {
    dataset,
    encoder,
    classifier,
    anchors,
    dataKey,
    dataName,
    description: `${title}${dataset.classNames.length} classes, ` +
      `${splits.train.imageIds.length} train / ${splits.test.imageIds.length} test), ` +
      `${encoder.id} (${encoder.grid.join("×")}×${encoder.dim}), ${anchorKind} (${anchors.dim}-d)`,
  };
}

/** Dataset, raw anchors and default MobileNet of the config's dataset kind. */
async function loadData(cfg: RunConfig) {
  const d = cfg.dataset;
  if (d.kind === "cub50") {
    const cubRoot = d.path ?? cubRootFromEnv();
    if (cubRoot === null) {
      throw new InputError(
        "CUB-200-2011 not found: set dataset.path, TEDLOC_CUB_ROOT or TEDLOC_SHARED_DATA (../shared/data)",
      );
    }
    const dataset = await ensurePreparedCub(cubRoot, projectPath("data", "cache", "cub50"));
    const anchors = cfg.anchors.file
      ? await readAnchors(cfg.anchors.file)
      : await cubAttributeAnchors(cubRoot, dataset);
    const mobilenetDir = Deno.env.get("TEDLOC_MOBILENET_DIR") ??
      sharedDataPath("mobilenet", "mobilenet_v1_0.75_224") ?? DEFAULT_MOBILENET_DIR;
    return {
      dataset,
      anchors,
      mobilenetDir,
      title: "CUB-50 (",
      dataName: "cub50",
      anchorKind: cfg.anchors.file ? "anchors" : "CUB attribute anchors",
    };
  }
  const dataset = d.kind === "default"
    ? await ensureDefaultDataset({ profile: d.profile })
    : await loadDataset(d.path!);
  const anchorsPath = cfg.anchors.file ?? dataset.anchorsPath;
  if (!anchorsPath) {
    throw new InputError(`dataset ${dataset.name} ships no anchors: set anchors.file`, {
      file: dataset.root,
    });
  }
  return {
    dataset,
    anchors: await readAnchors(anchorsPath),
    mobilenetDir: DEFAULT_MOBILENET_DIR,
    title: d.kind === "default" ? `embedded default (${dataset.name}: ` : `${dataset.name} (`,
    dataName: dataset.name,
    anchorKind: d.kind === "default" && !cfg.anchors.file
      ? "synthetic attribute anchors"
      : "anchors",
  };
}

/** CUB class attribute anchors for the prepared dataset's classes, cached beside it. */
async function cubAttributeAnchors(cubRoot: string, dataset: WsolDataset): Promise<Anchors> {
  const path = join(dataset.root, "anchors-attributes.safetensors");
  try {
    const a = await readAnchors(path);
    if (a.count === dataset.classNames.length) return a;
  } catch {
    // not made yet
  }
  const attrPath = join(cubRoot, "attributes", "class_attribute_labels_continuous.txt");
  const matrix = await readAttributeMatrix(attrPath);
  const classes = await readClassList(join(dataset.root, "classes.txt"));
  const idList = await findCubIdList(attrPath);
  const a = attributeAnchors(matrix, classes, { idList: idList ?? undefined });
  const anchors: Anchors = {
    classNames: dataset.classNames,
    vectors: a.vectors,
    count: a.count,
    dim: a.dim,
    template: "",
    source: `attributes:CUB-200-2011 (${a.transform})`,
  };
  await writeAnchors(path, anchors);
  return anchors;
}
