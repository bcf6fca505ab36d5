/**
 * Synthetic score maps described by parameters, bit-identical to `synth_map` in
 * tests/fixtures/metrics/make_metrics_fixtures.py (same IEEE float64 operations in the same
 * order, then rounding to float32), so fixtures carry parameters instead of pixels.
 */

/** A map's parameters, as in the fixture file. */
export interface MapSpec {
  name: string;
  h: number;
  w: number;
  seed?: number;
  terms?: { kind: "bump" | "ring"; cx: number; cy: number; r: number; a: number; R?: number }[];
  noise?: number;
  levels?: number;
  values?: number[];
  fill?: number;
  normalize?: boolean;
}

/** The fixture script's integer hash of (x, y, seed), mapped to [0, 1). */
export function hashUnit(x: number, y: number, seed: number): number {
  let h = (Math.imul(x, 374761393) + Math.imul(y, 668265263) + Math.imul(seed, 2246822519 | 0)) >>>
    0;
  h = Math.imul(h ^ (h >>> 13), 1274126177) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 4294967296;
}

/** float64 map before normalisation. */
function raw(spec: MapSpec): Float64Array {
  const { h, w } = spec;
  if (spec.fill !== undefined) return new Float64Array(h * w).fill(spec.fill);
  if (spec.values) return Float64Array.from(spec.values);
  const v = new Float64Array(h * w);
  for (const t of spec.terms ?? []) {
    const rr = t.r * t.r;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const dx = x - t.cx, dy = y - t.cy;
        const d2 = dx * dx + dy * dy;
        if (t.kind === "bump") {
          v[y * w + x] = v[y * w + x] + t.a / (1 + d2 / rr);
        } else {
          const dd = Math.sqrt(d2) - t.R!;
          v[y * w + x] = v[y * w + x] + t.a / (1 + dd * dd / rr);
        }
      }
    }
  }
  if (spec.noise) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        v[y * w + x] = v[y * w + x] + spec.noise * hashUnit(x, y, spec.seed!);
      }
    }
  }
  return v;
}

/** The float32 score map of a spec (see the fixture script's `synth_map`). */
export function synthMap(spec: MapSpec): Float32Array {
  let v = raw(spec);
  if (spec.normalize ?? true) {
    let lo = Infinity, hi = -Infinity;
    for (const x of v) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    v = hi > lo ? v.map((x) => (x - lo) / (hi - lo)) : new Float64Array(v.length);
  }
  if (spec.levels) {
    const L = spec.levels;
    v = v.map((x) => Math.floor(x * L) / L);
  }
  return Float32Array.from(v);
}

/** 1 inside the disc (x−cx)² + (y−cy)² ≤ r², else 0. */
export function discMask(h: number, w: number, cx: number, cy: number, r: number): Uint8Array {
  const m = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * w + x] = 1;
  }
  return m;
}

/** Sum of the quantized map, to check a regenerated map equals the fixture's. */
export function u8Sum(u8: Uint8Array): number {
  let s = 0;
  for (const v of u8) s += v;
  return s;
}

/** The fixture file, parsed once. */
// deno-lint-ignore no-explicit-any
export const FIXTURES: any = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/metrics/metrics_fixtures.json", import.meta.url)),
);
