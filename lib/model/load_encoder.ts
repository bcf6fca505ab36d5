/**
 * Rebuild an encoder from its serialisable recipe (`PatchEncoder.spec`): how feature
 * extraction workers get their own copy of the caller's encoder.
 *
 * @module
 */
import { InputError } from "../io/errors.ts";
import type { PatchEncoder } from "./encoder.ts";
import {
  TfjsCnnClassifier,
  type TfjsCnnClassifierSpec,
  TfjsCnnEncoder,
  type TfjsCnnEncoderSpec,
} from "./mobilenet.ts";
import { VitEncoder, type VitEncoderSpec } from "./vit.ts";

/** Every encoder recipe the library knows. */
export type EncoderSpec = TfjsCnnEncoderSpec | VitEncoderSpec;

/**
 * Load the encoder a spec describes.
 *
 * @example
 * ```ts
 * const copy = await loadEncoder(encoder.spec as EncoderSpec);
 * ```
 */
export async function loadEncoder(spec: EncoderSpec): Promise<PatchEncoder> {
  switch (spec.kind) {
    case "tfjs-cnn": {
      const { kind: _kind, dir, ...opts } = spec;
      return await TfjsCnnEncoder.load(dir, opts);
    }
    case "vit": {
      const { kind: _kind, path, ...opts } = spec;
      return await VitEncoder.load(path, opts);
    }
    default:
      throw new InputError(`unknown encoder kind '${(spec as { kind: string }).kind}'`);
  }
}

/**
 * Load the classifier a {@link TfjsCnnClassifierSpec} describes.
 *
 * @example
 * ```ts
 * const clf = await loadClassifier(classifier.spec);
 * ```
 */
export async function loadClassifier(spec: TfjsCnnClassifierSpec): Promise<TfjsCnnClassifier> {
  if (spec.kind !== "tfjs-cnn-classifier") {
    throw new InputError(`unknown classifier kind '${spec.kind}'`);
  }
  const { kind: _kind, dir, ...opts } = spec;
  return await TfjsCnnClassifier.load(dir, opts);
}
