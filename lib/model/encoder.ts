/**
 * The interface every frozen encoder implements (ViT, tfjs CNNs), and the cached token
 * set they produce. Anything that yields patch tokens on a known grid can serve TeD-Loc.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/**
 * A frozen image encoder that returns patch tokens on a grid.
 *
 * Cell geometry: pixel k spans [k, k+1); the centre of grid cell i along an axis lies at
 * `i * stride + cellOffset` input pixels (ViT/16: offset 8; a TF 'same'-padded stride-16
 * feature map: 15.5).
 */
export interface PatchEncoder {
  /** Stable id used in cache keys, e.g. `mobilenet_v1_0.25@conv_pw_11_relu`. */
  readonly id: string;
  /** Square input side in pixels (224). */
  readonly inputSize: number;
  /** Token grid `[gh, gw]`. */
  readonly grid: [number, number];
  /** Token dimension. */
  readonly dim: number;
  /** Input pixels per grid cell. */
  readonly stride: number;
  /** Input-pixel position of cell 0's centre (see the interface doc). */
  readonly cellOffset: number;
  /** Raw RGB `[B, S, S, 3]` in 0..255 → tokens `[B, gh*gw, dim]` (cells row-major). */
  encode(images: tf.Tensor4D): tf.Tensor3D;
  /** Last-layer CLS→patch attention `[B, gh*gw]` (ViTs only). */
  clsAttention?(images: tf.Tensor4D): tf.Tensor2D;
  /**
   * A JSON-serialisable recipe that rebuilds this encoder (`loadEncoder(spec)`), so feature
   * extraction can run it in worker threads. Absent for encoders built in memory.
   */
  readonly spec?: { readonly kind: string };
  /** Short digest of the weights, part of feature cache keys (absent: the id alone). */
  readonly fingerprint?: string;
  /** Number of parameters used to produce the tokens. */
  parameterCount(): number;
  /** Free the weights. */
  dispose(): void;
}

/** Frozen tokens of a list of images, computed once and cached. */
export interface FeatureSet {
  /** The encoder's id. */
  encoderId: string;
  /** Image ids, in token order. */
  ids: string[];
  /** Token grid `[gh, gw]`. */
  grid: [number, number];
  /** Token dimension. */
  dim: number;
  /** Encoder stride (input pixels per cell). */
  stride: number;
  /** Encoder cell offset (see {@link PatchEncoder}). */
  cellOffset: number;
  /** Names of the image views, e.g. `["test", "flip"]` (horizontal flip). */
  views: string[];
  /** `[views.length][ids.length][gh*gw][dim]`, row-major. */
  tokens: Float32Array;
}
