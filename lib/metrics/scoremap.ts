/**
 * Score maps: bicubic resizing exactly as OpenCV's `cv2.resize(..., INTER_CUBIC)`, upsampling
 * of patch-grid maps with their true cell centres, wsolevaluation's min-max normalisation,
 * its validity check, and the centre-Gaussian sanity baseline.
 *
 * ## Geometry
 *
 * Pixel k spans [k, k+1) and has its centre at k + 0.5. OpenCV's resize maps output pixel
 * `dx` to source coordinate `fx = (dx + 0.5) · sw/dw − 0.5` (half-pixel centres), in units of
 * source samples (sample i sits at fx = i). For a patch grid of `g` cells at `stride` pixels
 * covering `size = g·stride` pixels, this puts cell i's centre at `i·stride + stride/2`
 * pixels: right for a ViT/16 (cells are non-overlapping 16-px patches), wrong for
 * TF/Keras CNNs. A Keras 'same'-padded 3×3 stride-2 layer on an even input pads one
 * pixel at the bottom/right only, so its output cell j is centred on input pixel 2j + 1,
 * i.e. at coordinate 2j + 1.5, not at 2j + 1 as plain resizing assumes: half of that layer's
 * input pixel further down-right. Compounded over four such layers a stride-16 cell sits at
 * `16 i + 8 + 0.5·(1+2+4+8) = 16 i + 15.5` (7.5 px further down-right than `16 i + 8`), and
 * over five layers a stride-32 cell at `32 i + 31.5` (docs/architecture.md, Conventions).
 * {@link upsampleCellMap} takes that `cellOffset` and evaluates the same cubic kernel at the
 * true positions: output pixel k samples source coordinate `(k + 0.5 − cellOffset) / stride`.
 *
 * ## Precision
 *
 * OpenCV (4.6, checked against cv2) computes the cubic coefficients in float32
 * (`interpolateCubic`, A = −0.75, from `fx = (float)((dx + 0.5)·scale − 0.5)` with
 * `scale = 1/(dsize/ssize)` in double) for every input depth; rows first, then columns.
 * For CV_32F input both passes accumulate in float32 (the vertical one in a column-dependent
 * order, see `applyPlans`); for CV_64F — what wsolevaluation's inference feeds it, after
 * `t2n` casts to float64 — they accumulate in float64. Both are reproduced (`precision`
 * option, float32 by default) and match cv2 bit for bit on the fixtures.
 *
 * @module
 */
import { InputError } from "../io/errors.ts";

/** Numeric precision of the cubic passes: as cv2 on float32 or on float64 input. */
export type ResizePrecision = "float32" | "float64";

/** Options of {@link resizeBicubic} and {@link upsampleCellMap}. */
export interface BicubicOptions {
  /** Accumulate as OpenCV does for float32 (default) or float64 input. */
  precision?: ResizePrecision;
}

const fr = Math.fround;
const A = -0.75;

/** OpenCV's `interpolateCubic` in float32 arithmetic; writes 4 coefficients at `out[o..o+3]`. */
function cubicCoefficients32(x: number, out: Float32Array, o: number): void {
  const x1 = fr(x + 1);
  // ((A*(x+1) - 5A)*(x+1) + 8A)*(x+1) - 4A
  const c0 = fr(fr(fr(fr(fr(fr(A * x1) - fr(5 * A)) * x1) + fr(8 * A)) * x1) - fr(4 * A));
  // ((A+2)*x - (A+3))*x*x + 1
  const c1 = fr(fr(fr(fr(fr(fr(A + 2) * x) - fr(A + 3)) * x) * x) + 1);
  const y = fr(1 - x);
  const c2 = fr(fr(fr(fr(fr(fr(A + 2) * y) - fr(A + 3)) * y) * y) + 1);
  const c3 = fr(fr(fr(1 - c0) - c1) - c2);
  out[o] = c0;
  out[o + 1] = c1;
  out[o + 2] = c2;
  out[o + 3] = c3;
}

/** Per output index: the 4 clamped source taps and their float32 coefficients. */
interface AxisPlan {
  taps: Int32Array;
  coeffs: Float32Array;
}

/** Plan one axis from float32 source coordinates (sample i at coordinate i). */
function planAxis(coords: Float32Array, srcLen: number): AxisPlan {
  const n = coords.length;
  const taps = new Int32Array(n * 4);
  const coeffs = new Float32Array(n * 4);
  for (let d = 0; d < n; d++) {
    const f = coords[d];
    const s = Math.floor(f);
    cubicCoefficients32(fr(f - s), coeffs, d * 4);
    for (let j = 0; j < 4; j++) {
      const t = s - 1 + j; // border replicate, as OpenCV's cubic resize
      taps[d * 4 + j] = t < 0 ? 0 : t >= srcLen ? srcLen - 1 : t;
    }
  }
  return { taps, coeffs };
}

/** Separable cubic pass: rows first (horizontal), then columns, as OpenCV's resizeGeneric. */
function applyPlans(
  src: ArrayLike<number>,
  sh: number,
  sw: number,
  px: AxisPlan,
  py: AxisPlan,
  precision: ResizePrecision,
): Float32Array | Float64Array {
  const dw = px.taps.length / 4, dh = py.taps.length / 4;
  const horiz = precision === "float32" ? new Float32Array(sh * dw) : new Float64Array(sh * dw);
  const { taps: tx, coeffs: cx } = px;
  if (precision === "float32") {
    for (let y = 0; y < sh; y++) {
      const row = y * sw;
      for (let d = 0; d < dw; d++) {
        const k = d * 4;
        let v = 0;
        for (let j = 0; j < 4; j++) v = fr(v + fr(fr(src[row + tx[k + j]]) * cx[k + j]));
        horiz[y * dw + d] = v;
      }
    }
  } else {
    for (let y = 0; y < sh; y++) {
      const row = y * sw;
      for (let d = 0; d < dw; d++) {
        const k = d * 4;
        let v = 0;
        for (let j = 0; j < 4; j++) v += src[row + tx[k + j]] * cx[k + j];
        horiz[y * dw + d] = v;
      }
    }
  }
  const out = precision === "float32" ? new Float32Array(dh * dw) : new Float64Array(dh * dw);
  const { taps: ty, coeffs: cy } = py;
  // OpenCV's float32 vertical pass runs 4-lane SIMD over the first ⌊dw/4⌋·4 columns, summing
  // ((b3·S3 + b2·S2) + b1·S1) + b0·S0, and a scalar loop over the rest, summing in the
  // opposite order (both measured bit-exact against cv2 4.6).
  const simdEnd = dw - (dw % 4);
  for (let d = 0; d < dh; d++) {
    const k = d * 4;
    const r0 = ty[k] * dw, r1 = ty[k + 1] * dw, r2 = ty[k + 2] * dw, r3 = ty[k + 3] * dw;
    const b0 = cy[k], b1 = cy[k + 1], b2 = cy[k + 2], b3 = cy[k + 3];
    const o = d * dw;
    if (precision === "float32") {
      for (let x = 0; x < simdEnd; x++) {
        out[o + x] = fr(
          fr(fr(fr(b3 * horiz[r3 + x]) + fr(b2 * horiz[r2 + x])) + fr(b1 * horiz[r1 + x])) +
            fr(b0 * horiz[r0 + x]),
        );
      }
      for (let x = simdEnd; x < dw; x++) {
        out[o + x] = fr(
          fr(fr(fr(b0 * horiz[r0 + x]) + fr(b1 * horiz[r1 + x])) + fr(b2 * horiz[r2 + x])) +
            fr(b3 * horiz[r3 + x]),
        );
      }
    } else {
      for (let x = 0; x < dw; x++) {
        out[o + x] = b0 * horiz[r0 + x] + b1 * horiz[r1 + x] + b2 * horiz[r2 + x] +
          b3 * horiz[r3 + x];
      }
    }
  }
  return out;
}

function checkSize(name: string, ...dims: number[]): void {
  for (const d of dims) {
    if (!Number.isInteger(d) || d <= 0) throw new RangeError(`${name}: bad size ${dims}`);
  }
}

/**
 * Resize a row-major `sh×sw` map to `dh×dw` exactly as
 * `cv2.resize(src, (dw, dh), interpolation=cv2.INTER_CUBIC)`: half-pixel centres, the cubic
 * kernel with A = −0.75 (coefficients in float32), replicated borders.
 *
 * @example
 * ```ts
 * const map224 = resizeBicubic(cam14x14, 14, 14, 224, 224);
 * ```
 */
export function resizeBicubic(
  src: ArrayLike<number>,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
  opts?: { precision?: "float32" },
): Float32Array;
/** As cv2 on float64 input: float64 result. */
export function resizeBicubic(
  src: ArrayLike<number>,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
  opts: { precision: "float64" },
): Float64Array;
/** Precision chosen at run time. */
export function resizeBicubic(
  src: ArrayLike<number>,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
  opts: BicubicOptions,
): Float32Array | Float64Array;
export function resizeBicubic(
  src: ArrayLike<number>,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
  opts: BicubicOptions = {},
): Float32Array | Float64Array {
  checkSize("resizeBicubic", sh, sw, dh, dw);
  if (src.length !== sh * sw) {
    throw new RangeError(`resizeBicubic: ${src.length} values for ${sh}x${sw}`);
  }
  // OpenCV: scale = 1 / (dsize / ssize) in double; fx = (float)((dx + 0.5) * scale - 0.5)
  const coords = (d: number, s: number) => {
    const scale = 1 / (d / s);
    return Float32Array.from({ length: d }, (_, i) => (i + 0.5) * scale - 0.5);
  };
  return applyPlans(
    src,
    sh,
    sw,
    planAxis(coords(dw, sw), sw),
    planAxis(coords(dh, sh), sh),
    opts.precision ?? "float32",
  );
}

/** Geometry of a patch-grid map for {@link upsampleCellMap}. */
export interface CellGeometry {
  /** Output size in pixels (square), e.g. 224. */
  size: number;
  /** Pixels between neighbouring cell centres, e.g. 16. */
  stride: number;
  /** Pixel coordinate of cell 0's centre (pixel k spans [k, k+1)), e.g. 8 for a ViT/16. */
  cellOffset: number;
}

/**
 * Bicubic upsampling of a `gh×gw` patch-grid map to `size×size` pixels that puts cell i's
 * centre at `i·stride + cellOffset` pixels (the OpenCV cubic kernel and precision, replicated
 * borders). With `cellOffset = stride/2` and `size = g·stride` it is bit-identical to
 * {@link resizeBicubic}; a TF 'same'-padded stride-16 CNN has `cellOffset = 15.5`.
 *
 * @example
 * ```ts
 * // MobileNet conv_pw_11 (14×14, stride 16, TF 'same' padding)
 * const map = upsampleCellMap(cam, 14, 14, { size: 224, stride: 16, cellOffset: 15.5 });
 * ```
 */
export function upsampleCellMap(
  map: ArrayLike<number>,
  gh: number,
  gw: number,
  geometry: CellGeometry,
  opts?: { precision?: "float32" },
): Float32Array;
/** With float64 accumulation: float64 result. */
export function upsampleCellMap(
  map: ArrayLike<number>,
  gh: number,
  gw: number,
  geometry: CellGeometry,
  opts: { precision: "float64" },
): Float64Array;
/** Precision chosen at run time. */
export function upsampleCellMap(
  map: ArrayLike<number>,
  gh: number,
  gw: number,
  geometry: CellGeometry,
  opts: BicubicOptions,
): Float32Array | Float64Array;
export function upsampleCellMap(
  map: ArrayLike<number>,
  gh: number,
  gw: number,
  geometry: CellGeometry,
  opts: BicubicOptions = {},
): Float32Array | Float64Array {
  const { size, stride, cellOffset } = geometry;
  checkSize("upsampleCellMap", gh, gw, size);
  if (!(stride > 0) || !Number.isFinite(cellOffset)) {
    throw new RangeError(`upsampleCellMap: bad geometry ${JSON.stringify(geometry)}`);
  }
  if (map.length !== gh * gw) {
    throw new RangeError(`upsampleCellMap: ${map.length} values for ${gh}x${gw}`);
  }
  // (k + 0.5 - cellOffset) / stride, written so that cellOffset = stride/2 reproduces
  // OpenCV's (k + 0.5) * scale - 0.5 bit for bit.
  const scale = 1 / stride;
  const shift = (cellOffset - stride / 2) * scale;
  const coords = Float32Array.from({ length: size }, (_, k) => (k + 0.5) * scale - 0.5 - shift);
  return applyPlans(
    map,
    gh,
    gw,
    planAxis(coords, gw),
    planAxis(coords, gh),
    opts.precision ?? "float32",
  );
}

/**
 * wsolevaluation's `normalize_scoremap`: a map holding NaN (here: any non-finite value) or
 * a constant map becomes all zeros; otherwise `(map − min) / max(map − min)`, computed in the
 * array's own precision (float32 for a Float32Array, as NumPy does on float32 arrays).
 *
 * @example
 * ```ts
 * const scoremap = normalizeScoremap(resizeBicubic(cam, 14, 14, 224, 224));
 * ```
 */
export function normalizeScoremap<T extends Float32Array | Float64Array>(map: T): T {
  const out = new (map.constructor as { new (n: number): T })(map.length);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (!Number.isFinite(v)) return out;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi || map.length === 0) return out;
  const r = map instanceof Float32Array ? fr : (v: number) => v;
  const span = r(hi - lo);
  for (let i = 0; i < map.length; i++) out[i] = r(r(map[i] - lo) / span);
  return out;
}

/**
 * The sanity baseline that ignores the image: an isotropic Gaussian with standard deviation
 * `sigma` pixels centred on the frame's centre (pixel coordinate (size−1)/2 = 111.5 for 224,
 * pixel k at coordinate k), min-max normalised to [0, 1] (computed in float64, stored as
 * float32). On the CUB-50 test set it scores MaxBoxAcc 58.0 and MaxBoxAccV2 56.4.
 *
 * @example
 * ```ts
 * const baseline = centerGaussianMap(); // 224×224, sigma 56
 * ```
 */
export function centerGaussianMap(size = 224, sigma = 56): Float32Array {
  checkSize("centerGaussianMap", size);
  if (!(sigma > 0)) throw new RangeError(`centerGaussianMap: sigma must be > 0, got ${sigma}`);
  const c = (size - 1) / 2;
  const raw = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      raw[y * size + x] = Math.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * sigma * sigma));
    }
  }
  const n = normalizeScoremap(raw);
  return Float32Array.from(n);
}

/**
 * Check a score map as wsolevaluation's `check_scoremap_validity` does (plus its size):
 * `h×w` values, no NaN or infinity, every value in [0, 1]. Throws an {@link InputError}
 * naming `source` (a file or image id).
 *
 * @example
 * ```ts
 * checkScoremap(map, 224, 224, "scoremaps/001/a.jpg.npy");
 * ```
 */
export function checkScoremap(
  map: ArrayLike<number>,
  h: number,
  w: number,
  source = "<scoremap>",
): void {
  if (map.length !== h * w) {
    throw new InputError(`score map has ${map.length} values, expected ${h}x${w}`, {
      file: source,
    });
  }
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (Number.isNaN(v)) {
      throw new InputError(`score map holds NaN at (y=${Math.floor(i / w)}, x=${i % w})`, {
        file: source,
      });
    }
    if (!(v >= 0 && v <= 1)) {
      throw new InputError(
        `score map value ${v} at (y=${Math.floor(i / w)}, x=${i % w}) is outside [0, 1]`,
        { file: source },
      );
    }
  }
}

/**
 * The map as wsolevaluation binarizes it: `(map * 255).astype(uint8)` (product in float64,
 * truncation), and its maximum. Values must lie in [0, 1].
 *
 * @example
 * ```ts
 * const { u8, max } = quantizeScoremap(map);
 * ```
 */
export function quantizeScoremap(map: ArrayLike<number>): { u8: Uint8Array; max: number } {
  const u8 = new Uint8Array(map.length);
  let max = 0;
  for (let i = 0; i < map.length; i++) {
    const q = Math.trunc(map[i] * 255);
    u8[i] = q;
    if (q > max) max = q;
  }
  return { u8, max };
}

/**
 * Nearest-neighbour resize as `cv2.resize(..., interpolation=cv2.INTER_NEAREST)`
 * (source index `min(floor(d · (1 / (dsize/ssize))), s − 1)`), used for GT masks.
 *
 * @example
 * ```ts
 * const mask224 = resizeNearest(mask, 375, 500, 224, 224);
 * ```
 */
export function resizeNearest<T extends ArrayLike<number>>(
  src: T,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
): Float32Array {
  checkSize("resizeNearest", sh, sw, dh, dw);
  if (src.length !== sh * sw) {
    throw new RangeError(`resizeNearest: ${src.length} values for ${sh}x${sw}`);
  }
  const index = (d: number, s: number) => {
    const ifx = 1 / (d / s);
    return Int32Array.from({ length: d }, (_, i) => Math.min(Math.floor(i * ifx), s - 1));
  };
  const xs = index(dw, sw), ys = index(dh, sh);
  const out = new Float32Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    const row = ys[y] * sw;
    for (let x = 0; x < dw; x++) out[y * dw + x] = src[row + xs[x]];
  }
  return out;
}
