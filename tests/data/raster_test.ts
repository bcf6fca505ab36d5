import { assert, assertAlmostEquals, assertEquals } from "../assert.ts";
import {
  applyAffine,
  Canvas,
  circle,
  compose,
  ellipse,
  invert,
  maskExtent,
  polygon,
  pose,
  stroke,
} from "../../lib/data/raster.ts";

const ID = pose(0, 0, 0, 1, 1);

function sum(a: Float32Array, from = 0, step = 1): number {
  let s = 0;
  for (let i = from; i < a.length; i += step) s += a[i];
  return s;
}

Deno.test("raster: pixel-aligned square covers exactly its pixels; AA area matches geometry", () => {
  const c = new Canvas(20, 10);
  c.fill(polygon([[2, 3], [7, 3], [7, 8], [2, 8]]), ID, [1, 0, 0], { layer: "object" });
  for (let y = 0; y < 10; y++) {
    for (let x = 0; x < 20; x++) {
      const inside = x >= 2 && x < 7 && y >= 3 && y < 8;
      assertEquals(c.object[y * 20 + x], inside ? 1 : 0, `pixel ${x},${y}`);
      assertEquals(c.rgb[(y * 20 + x) * 3], inside ? 1 : 0);
    }
  }
  assertEquals(maskExtent(c.maskBytes(), 20, 10), [2, 3, 6, 7]);
  // a half-pixel offset square: edge pixels half covered; distance-based AA gives the 4
  // corner pixels ½ instead of ¼, so the area is 49 + 1
  const h = new Canvas(20, 20);
  h.fill(polygon([[2.5, 2.5], [9.5, 2.5], [9.5, 9.5], [2.5, 9.5]]), ID, [1, 1, 1], {
    layer: "object",
  });
  assertAlmostEquals(sum(h.object), 50, 1e-4);
  assertAlmostEquals(h.object[2 * 20 + 5], 0.5, 1e-6);
  // a circle's and a rotated ellipse's coverage sum ≈ their area
  const e = new Canvas(120, 120);
  e.fill(circle(60, 60, 30), ID, [1, 1, 1], { layer: "object" });
  assertAlmostEquals(sum(e.object), Math.PI * 900, 3);
  const f = new Canvas(120, 120);
  f.fill(ellipse(60, 60, 40, 15, 0.7), ID, [1, 1, 1], { layer: "object" });
  assertAlmostEquals(sum(f.object), Math.PI * 600, 6);
  // a stroke: area ≈ length × width + round caps
  const s = new Canvas(100, 40);
  s.fill(stroke([[10, 20], [90, 20]], 6), ID, [1, 1, 1], { layer: "object" });
  assertAlmostEquals(sum(s.object), 80 * 6 + Math.PI * 9, 3);
});

Deno.test("raster: affine placement, occluders cut the object layer, mask = coverage ≥ ½", () => {
  const m = pose(50, 40, Math.PI / 6, 10, 5);
  const back = applyAffine(invert(m), ...applyAffine(m, 1.5, -2));
  assertAlmostEquals(back[0], 1.5, 1e-9);
  assertAlmostEquals(back[1], -2, 1e-9);
  const twice = compose(m, pose(1, 0, 0, 2, 2));
  const p = applyAffine(twice, 1, 1), q = applyAffine(m, 3, 2);
  assertAlmostEquals(p[0], q[0], 1e-9);
  // a unit circle placed with scale 10 is a radius-10 circle
  const c = new Canvas(100, 80);
  c.fill(circle(0, 0, 1), pose(50, 40, 0, 10, 10), [0, 1, 0], { layer: "object" });
  assertAlmostEquals(sum(c.object), Math.PI * 100, 1.5);
  assertEquals(maskExtent(c.maskBytes(), 100, 80), [40, 30, 59, 49]);
  // an occluding bar through the middle removes object pixels but paints colour
  c.fill(polygon([[0, 38], [100, 38], [100, 42], [0, 42]]), ID, [0, 0, 1], {
    layer: "occluder",
  });
  assertEquals(c.object[40 * 100 + 50], 0);
  assertEquals(c.rgb[(40 * 100 + 50) * 3 + 2], 1);
  const mask = c.maskBytes();
  for (let i = 0; i < mask.length; i++) assertEquals(mask[i] !== 0, c.object[i] >= 0.5);
  // colour blends by coverage: an edge pixel is a mix of background and fill
  const edge = new Canvas(10, 10);
  edge.fill(polygon([[0, 0], [4.5, 0], [4.5, 10], [0, 10]]), ID, [1, 1, 1]);
  assertAlmostEquals(edge.rgb[4 * 3], 0.5, 1e-6);
  assertEquals(Array.from(edge.toBytes().subarray(0, 15)), [
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    128,
    128,
    128,
  ]);
  assertEquals(maskExtent(new Uint8Array(12), 4, 3), null);
  let threw = false;
  try {
    invert({ a: 1, b: 2, c: 2, d: 4, e: 0, f: 0 });
  } catch {
    threw = true;
  }
  assert(threw, "singular map refused");
});
