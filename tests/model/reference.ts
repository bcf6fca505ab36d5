/** Plain-JS reference computations (no tfjs) for checking the model by hand. */

export type Mat = number[][];

export function matmul(a: Mat, b: Mat): Mat {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}
export function reshape(flat: ArrayLike<number>, r: number, c: number): Mat {
  return Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => flat[i * c + j]));
}
export function addBias(a: Mat, b: ArrayLike<number>): Mat {
  return a.map((row) => row.map((v, j) => v + b[j]));
}
/** erf, Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7). */
export function erf(x: number): number {
  const s = Math.sign(x), t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 -
    (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return s * y;
}
export const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
export function layerNormRows(a: Mat, w: ArrayLike<number>, b: ArrayLike<number>, eps = 1e-5): Mat {
  return a.map((row) => {
    const m = row.reduce((s, v) => s + v, 0) / row.length;
    const v = row.reduce((s, x) => s + (x - m) ** 2, 0) / row.length;
    return row.map((x, j) => ((x - m) / Math.sqrt(v + eps)) * w[j] + b[j]);
  });
}
export function softmaxRow(r: number[]): number[] {
  const m = Math.max(...r), e = r.map((v) => Math.exp(v - m)), s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export function normalize(v: number[]): number[] {
  const s = Math.hypot(...v);
  return v.map((x) => x / s);
}
