import { assert, assertEquals } from "../assert.ts";
import {
  boxesAtThreshold,
  contourArea,
  contourBox,
  findContours,
} from "../../lib/metrics/contours.ts";
import { camThresholds } from "../../lib/metrics/box.ts";
import { quantizeScoremap } from "../../lib/metrics/scoremap.ts";
import { FIXTURES, hashUnit, type MapSpec, synthMap, u8Sum } from "./synthetic.ts";

Deno.test("findContours: points, order, parents and areas equal cv2.findContours", () => {
  let total = 0;
  // deno-lint-ignore no-explicit-any
  for (const c of FIXTURES.contours as any[]) {
    const img = new Uint8Array(c.h * c.w);
    for (let y = 0; y < c.h; y++) {
      for (let x = 0; x < c.w; x++) img[y * c.w + x] = hashUnit(x, y, c.seed) < c.p ? 1 : 0;
    }
    const got = findContours(img, c.h, c.w);
    const where = `case ${c.h}x${c.w} seed ${c.seed}`;
    assertEquals(got.map((k) => k.points), c.contours, where);
    assertEquals(got.map((k) => k.parent), c.parents, where);
    assertEquals(got.map((k) => contourArea(k.points)), c.areas, where);
    total += got.length;
  }
  assert(total > 150, `only ${total} contours in the fixture`);
});

Deno.test("findContours: hole contours and nesting on a ring with an island", () => {
  // 7×7 ring, hole 5×5 … island pixel in the middle
  const w = 9, h = 9;
  const img = new Uint8Array(w * h);
  for (let y = 1; y < 8; y++) for (let x = 1; x < 8; x++) img[y * w + x] = 1;
  for (let y = 2; y < 7; y++) for (let x = 2; x < 7; x++) img[y * w + x] = 0;
  img[4 * w + 4] = 1;
  const cs = findContours(img, h, w);
  assertEquals(cs.map((c) => [c.isHole, c.parent]), [[false, -1], [true, 0], [false, 1]]);
  assertEquals(cs.map((c) => contourBox(c.points, h, w)), [[1, 1, 8, 8], [1, 1, 8, 8], [
    4,
    4,
    5,
    5,
  ]]);
  assertEquals(findContours(new Uint8Array(12), 3, 4), []);
});

Deno.test("boxesAtThreshold: equals the cv2 reference at every τ of the fixture maps", () => {
  const taus = camThresholds(0.01);
  let checked = 0, holesWin = 0;
  // deno-lint-ignore no-explicit-any
  for (const c of FIXTURES.boxes as any[]) {
    const spec = c.spec as MapSpec;
    const { u8, max } = quantizeScoremap(synthMap(spec));
    assertEquals([u8Sum(u8), max], [c.u8sum, c.max], `map ${spec.name} regenerated`);
    const done = new Set<number>();
    taus.forEach((tau, i) => {
      const level = c.tauLevels[i];
      if (done.has(level)) return;
      done.add(level);
      const want = c.levels[String(level)];
      const got = boxesAtThreshold(u8, max, spec.h, spec.w, tau);
      assertEquals(got.largest, want.largest, `${spec.name} τ=${tau} largest`);
      const flat = got.all.map((b) => b.join()).sort().join();
      const wantFlat = [];
      for (let k = 0; k < want.all.length; k += 4) wantFlat.push(want.all.slice(k, k + 4).join());
      assertEquals(flat, wantFlat.sort().join(), `${spec.name} τ=${tau} all`);
      if (got.all.length > 1) holesWin++;
      checked++;
    });
  }
  assert(checked > 1000 && holesWin > 100, `${checked} levels checked`);
});
