import { assert, assertEquals } from "../assert.ts";
import { frameBoxToImage, resizeMapBilinear } from "../../lib/viz/overlay.ts";

Deno.test("resizeMapBilinear: same size is the identity; a step keeps its place at any aspect", () => {
  const map = Float32Array.from({ length: 12 }, (_, i) => i / 11);
  assertEquals(resizeMapBilinear(map, 4, 3, 4, 3), map);
  // left half 0, right half 1 on a 4×2 map → 400×30: the edge stays at the middle column
  const step = new Float32Array([0, 0, 1, 1, 0, 0, 1, 1]);
  const out = resizeMapBilinear(step, 4, 2, 400, 30);
  assertEquals(out.length, 400 * 30);
  for (const y of [0, 15, 29]) {
    assertEquals(out[y * 400 + 10], 0);
    assertEquals(out[y * 400 + 390], 1);
    assert(
      Math.abs(out[y * 400 + 199] + out[y * 400 + 200] - 1) < 1e-6,
      "symmetric about the middle",
    );
  }
  let threw = false;
  try {
    resizeMapBilinear(step, 3, 3, 10, 10);
  } catch {
    threw = true;
  }
  assert(threw, "a map of the wrong size is refused");
});

Deno.test("frameBoxToImage: 224-frame boxes in the image's own pixels (inclusive convention)", () => {
  assertEquals(frameBoxToImage([0, 0, 223, 223], 640, 480), [0, 0, 639, 479]);
  assertEquals(frameBoxToImage([112, 56, 167, 111], 448, 224), [224, 56, 335, 111]);
});
