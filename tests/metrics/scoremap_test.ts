import { assert, assertAlmostEquals, assertArrayClose, assertEquals } from "../assert.ts";
import {
  centerGaussianMap,
  checkScoremap,
  normalizeScoremap,
  quantizeScoremap,
  resizeBicubic,
  resizeNearest,
  upsampleCellMap,
} from "../../lib/metrics/scoremap.ts";
import { InputError } from "../../lib/io/errors.ts";
import { Rng } from "../../lib/util/rng.ts";
import { FIXTURES } from "./synthetic.ts";

Deno.test("resizeBicubic: equals cv2.resize INTER_CUBIC on float32 and float64 input", () => {
  let worst32 = 0, worst64 = 0, exact32 = 0, n = 0;
  // deno-lint-ignore no-explicit-any
  for (const c of FIXTURES.resize.bicubic as any[]) {
    const src = Float32Array.from(c.src);
    const got32 = resizeBicubic(src, c.sh, c.sw, c.dh, c.dw);
    const want32 = Float32Array.from(c.float32);
    assertArrayClose(got32, want32, 1e-6, `${c.sh}x${c.sw}→${c.dh}x${c.dw} float32`);
    const got64 = resizeBicubic(src, c.sh, c.sw, c.dh, c.dw, { precision: "float64" });
    assertArrayClose(got64, c.float64, 1e-11, `${c.sh}x${c.sw}→${c.dh}x${c.dw} float64`);
    for (let i = 0; i < want32.length; i++) {
      worst32 = Math.max(worst32, Math.abs(got32[i] - want32[i]));
      worst64 = Math.max(worst64, Math.abs(got64[i] - c.float64[i]));
      if (got32[i] === want32[i]) exact32++;
      n++;
    }
  }
  // the float32 emulation is bit-exact (coefficients, rounding, summation order)
  assertEquals(exact32, n, `only ${exact32}/${n} bit-identical (worst ${worst32}, ${worst64})`);
});

Deno.test("resizeNearest: cv2 INTER_NEAREST source indices", () => {
  // deno-lint-ignore no-explicit-any
  for (const c of FIXTURES.resize.nearest as any[]) {
    const src = Float32Array.from({ length: c.sh * c.sw }, (_, i) => i);
    const out = resizeNearest(src, c.sh, c.sw, 224, 224);
    const rows = Array.from({ length: 224 }, (_, y) => Math.floor(out[y * 224] / c.sw));
    const cols = Array.from({ length: 224 }, (_, x) => out[x] % c.sw);
    assertEquals(rows, c.rows, `${c.sh}x${c.sw} rows`);
    assertEquals(cols, c.cols, `${c.sh}x${c.sw} cols`);
  }
});

Deno.test("upsampleCellMap: equals resizeBicubic when cellOffset = stride/2", () => {
  const rng = new Rng(3);
  for (const [g, stride] of [[14, 16], [7, 32], [16, 14], [28, 8], [5, 7], [3, 12]]) {
    const map = Float32Array.from({ length: g * g }, () => rng.next());
    const size = g * stride;
    for (const precision of ["float32", "float64"] as const) {
      const a = upsampleCellMap(map, g, g, { size, stride, cellOffset: stride / 2 }, { precision });
      const b = resizeBicubic(map, g, g, size, size, { precision });
      assertEquals(Array.from(a), Array.from(b), `g=${g} stride=${stride} ${precision}`);
    }
  }
});

Deno.test("upsampleCellMap: cell centres sit at i·stride + cellOffset", () => {
  // a single hot cell: the output peak (two pixels straddling the centre) moves with cellOffset
  const g = 14, stride = 16;
  const map = new Float32Array(g * g);
  map[5 * g + 3] = 1; // row 5, col 3
  for (const cellOffset of [8, 15.5, 0.5]) {
    const out = upsampleCellMap(map, g, g, { size: 224, stride, cellOffset });
    let arg = 0;
    for (let i = 1; i < out.length; i++) if (out[i] > out[arg]) arg = i;
    const py = Math.floor(arg / 224), px = arg % 224;
    // centre at 3·16 + offset: the peak pixel's centre is within half a pixel of it
    assert(Math.abs(px + 0.5 - (3 * stride + cellOffset)) <= 0.5, `x ${px} for ${cellOffset}`);
    assert(Math.abs(py + 0.5 - (5 * stride + cellOffset)) <= 0.5, `y ${py} for ${cellOffset}`);
  }
  // the MobileNet shift is a pure translation by 7.5 px inside the frame
  const smooth = Float32Array.from({ length: g * g }, (_, i) => Math.sin(i / 7) + (i % g) / g);
  const plain = upsampleCellMap(smooth, g, g, { size: 224, stride, cellOffset: 8 });
  const shifted = upsampleCellMap(smooth, g, g, { size: 224, stride, cellOffset: 16 });
  for (let y = 20; y < 200; y++) {
    for (let x = 20; x < 200; x++) {
      assertAlmostEquals(shifted[(y + 8) * 224 + x + 8], plain[y * 224 + x], 1e-6);
    }
  }
});

Deno.test("normalizeScoremap: min-max, NaN or constant → zeros, float32 arithmetic", () => {
  assertEquals(Array.from(normalizeScoremap(Float32Array.from([2, 4, 3]))), [0, 1, 0.5]);
  assertEquals(Array.from(normalizeScoremap(Float32Array.from([1, NaN, 3]))), [0, 0, 0]);
  assertEquals(Array.from(normalizeScoremap(Float32Array.from([5, 5]))), [0, 0]);
  assertEquals(Array.from(normalizeScoremap(Float64Array.from([Infinity, 1]))), [0, 0]);
  // float32: (0.3 − 0.1) / (0.7 − 0.1) rounded at each step, as NumPy on float32
  const f = Math.fround;
  const a = normalizeScoremap(Float32Array.from([0.1, 0.3, 0.7]));
  assertEquals(a[1], f(f(f(0.3) - f(0.1)) / f(f(0.7) - f(0.1))));
  const d = normalizeScoremap(Float64Array.from([0.1, 0.3, 0.7]));
  assertEquals(d[1], (0.3 - 0.1) / (0.7 - 0.1));
  assert(d instanceof Float64Array && a instanceof Float32Array);
});

Deno.test("centerGaussianMap: centred at 111.5, min 0, max 1, sigma 56", () => {
  const m = centerGaussianMap();
  assertEquals(m.length, 224 * 224);
  for (const [y, x] of [[111, 111], [111, 112], [112, 111], [112, 112]]) {
    assertEquals(m[y * 224 + x], 1);
  }
  assertEquals(m[0], 0);
  assertEquals(m[223], m[223 * 224]);
  // exp(−d²/2σ²) with d measured from (111.5, 111.5), min-max normalised over the frame
  const g = (x: number, y: number) => Math.exp(-((x - 111.5) ** 2 + (y - 111.5) ** 2) / 6272);
  const lo = g(0, 0), hi = g(111, 111);
  for (const [y, x] of [[111, 167], [20, 50], [200, 3]]) {
    assertAlmostEquals(m[y * 224 + x], (g(x, y) - lo) / (hi - lo), 1e-7);
  }
  assertAlmostEquals(centerGaussianMap(10, 2)[4 * 10 + 4], 1, 0);
});

Deno.test("checkScoremap and quantizeScoremap", () => {
  checkScoremap(Float32Array.from([0, 0.5, 1, 1]), 2, 2);
  const bad: [number[], string][] = [
    [[0, 0.5, 1], "3 values"],
    [[0, NaN, 1, 0], "NaN"],
    [
      [0, 1.0001, 1, 0],
      "outside [0, 1]",
    ],
    [[0, -1e-9, 1, 0], "outside"],
    [[0, Infinity, 1, 0], "outside"],
  ];
  for (const [v, msg] of bad) {
    let err: unknown;
    try {
      checkScoremap(Float64Array.from(v), 2, 2, "x.npy");
    } catch (e) {
      err = e;
    }
    assert(err instanceof InputError && err.message.includes(msg), `${v}: ${err}`);
    assert((err as InputError).file === "x.npy");
  }
  // ×255 in float64 then truncation: float32 0.2 is 0.200000003 → 51
  const q = quantizeScoremap(Float32Array.from([0.2, 1, 0.999, 0]));
  assertEquals(Array.from(q.u8), [51, 255, 254, 0]);
  assertEquals(q.max, 255);
});
