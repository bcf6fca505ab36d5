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
  centredAnchorVectors,
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

/** Inputs as the selector names them, with what is needed to derive an anchor variant. */
interface LoadedInputs {
  inputs: RunInputs;
  /** dataset.json's text (part of the data key). */
  descriptor: string;
  /** CUB root of a `cub50` dataset (for its raw attribute anchors), else null. */
  cubRoot: string | null;
  /** The description without its anchors part. */
  title: string;
}

const loaded = new Map<string, Promise<LoadedInputs>>();
const anchorVariants = new Map<string, Promise<RunInputs>>();

/**
 * Which anchors a config's `anchors.ortho` reads (see `AnchorOrtho` in lib/config/schema.ts):
 * `given` = the dataset's (or anchors.file's) anchors as loaded; `cub-raw` = CUB-50's raw
 * attribute vectors (`none` without anchors.file: as they come, uncentred); `own-centred` =
 * the given anchors centred on their own mean (`centre` on anything but CUB-50's built-in
 * attributes, which are already centred on all 200 classes).
 */
export function anchorVariant(cfg: RunConfig): "given" | "cub-raw" | "own-centred" {
  const cubBuiltIn = cfg.dataset.kind === "cub50" && !cfg.anchors.file;
  if (cfg.anchors.ortho === "none" && cubBuiltIn) return "cub-raw";
  if (cfg.anchors.ortho === "centre" && !cubBuiltIn) return "own-centred";
  return "given";
}

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
  const variant = anchorVariant(cfg);
  if (variant === "given") return p.then((l) => l.inputs);
  // Another set of anchors on the same dataset and encoder: shared encoder, own data key.
  const vkey = `${key}|${variant}`;
  let v = anchorVariants.get(vkey);
  if (!v) {
    v = p.then((l) => withAnchorVariant(l, variant as "cub-raw" | "own-centred"));
    v.catch(() => anchorVariants.delete(vkey));
    anchorVariants.set(vkey, v);
  }
  return v;
}

async function withAnchorVariant(
  l: LoadedInputs,
  variant: "cub-raw" | "own-centred",
): Promise<RunInputs> {
  const base = l.inputs;
  let anchors: Anchors, kind: string;
  if (variant === "cub-raw") {
    anchors = await cubAttributeAnchors(l.cubRoot!, base.dataset, "raw");
    kind = "CUB attribute anchors, uncentred";
  } else {
    const a = base.anchors;
    anchors = {
      ...a,
      vectors: centredAnchorVectors(a.vectors, a.count, a.dim, a.classNames),
      source: `${a.source} (centred on its ${a.count} classes' mean)`,
    };
    kind = "anchors centred on their mean";
  }
  return {
    ...base,
    anchors,
    dataKey: await dataKeyOf(l.descriptor, anchors, base.encoder),
    description: `${l.title}, ${kind} (${anchors.dim}-d)`,
  };
}

/** The data key: dataset descriptor, anchor vectors, encoder id and weights. */
async function dataKeyOf(
  descriptor: string,
  anchors: Anchors,
  encoder: PatchEncoder,
): Promise<string> {
  return await contentKey({
    dataset: descriptor,
    anchors: [anchors.classNames, anchors.dim, Array.from(anchors.vectors)],
    encoder: [encoder.id, encoder.fingerprint ?? null],
  });
}

/** Free every loaded encoder and classifier. */
export async function disposeRunInputs(): Promise<void> {
  const all = [...loaded.values()];
  loaded.clear();
  anchorVariants.clear(); // they share their base's encoder and classifier
  for (const p of all) {
    const inputs = (await p.catch(() => null))?.inputs;
    inputs?.encoder.dispose();
    inputs?.classifier?.dispose();
  }
}

async function loadFresh(cfg: RunConfig): Promise<LoadedInputs> {
  const { dataset, anchors, mobilenetDir, title, dataName, anchorKind, cubRoot } = await loadData(
    cfg,
  );
  const modelDir = cfg.encoder.model ?? mobilenetDir;
  // a .safetensors file is a timm-named ViT (tokens after the final norm; `layer` unused)
  const vit = modelDir.endsWith(".safetensors");
  const needsClassifier = inputsSelector(cfg).classifier;
  if (vit && needsClassifier) {
    throw new InputError(
      `cues '${cfg.cues.recipe}': inet<k> needs a tfjs ImageNet classifier, not a ViT ` +
        `(${modelDir}); use cam, attention, pca or prior terms`,
    );
  }
  const encoder = vit
    ? await VitEncoder.load(modelDir)
    : await TfjsCnnEncoder.load(modelDir, { layer: cfg.encoder.layer });
  const classifier = needsClassifier ? await TfjsCnnClassifier.load(modelDir) : undefined;
  if (anchors.count !== dataset.classNames.length) {
    throw new InputError(
      `${anchors.count} anchors for ${dataset.classNames.length} classes of ${dataset.name}`,
      { file: cfg.anchors.file ?? dataset.anchorsPath ?? undefined },
    );
  }
  const descriptor = await Deno.readTextFile(join(dataset.root, "dataset.json")).catch(() => "");
  const dataKey = await dataKeyOf(descriptor, anchors, encoder);
  const splits = dataset.splits;
  const head = `${title}${dataset.classNames.length} classes, ` +
    `${splits.train.imageIds.length} train / ${splits.test.imageIds.length} test), ` +
    `${encoder.id} (${encoder.grid.join("×")}×${encoder.dim})`;
  return {
    inputs: {
      dataset,
      encoder,
      classifier,
      anchors,
      dataKey,
      dataName,
      description: `${head}, ${anchorKind} (${anchors.dim}-d)`,
    },
    descriptor,
    cubRoot,
    title: head,
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
      cubRoot,
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
    cubRoot: null,
    anchorKind: d.kind === "default" && !cfg.anchors.file
      ? "synthetic attribute anchors"
      : "anchors",
  };
}

/**
 * CUB class attribute anchors for the prepared dataset's classes (centred on all 200
 * classes, or raw), cached beside it.
 */
async function cubAttributeAnchors(
  cubRoot: string,
  dataset: WsolDataset,
  transform: "centred" | "raw" = "centred",
): Promise<Anchors> {
  // the centred file keeps its old name (every CUB-50 run so far reads it)
  const path = join(
    dataset.root,
    transform === "centred"
      ? "anchors-attributes.safetensors"
      : "anchors-attributes-raw.safetensors",
  );
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
  const a = attributeAnchors(matrix, classes, { idList: idList ?? undefined, transform });
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
