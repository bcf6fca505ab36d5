import { assert, assertAlmostEquals, assertEquals } from "../assert.ts";
import { Rng } from "../../lib/util/rng.ts";
import { flipMapHorizontal, sampleBatchMasks, sampleFgBg } from "../../lib/cues/sampler.ts";

const cue = Float32Array.from({ length: 20 }, (_, i) => i / 19); // patch i has cue i/19

Deno.test("sampler: FG only from the top fraction, BG only from the bottom fraction, counts, no repeats", () => {
  const rng = new Rng(1);
  for (let t = 0; t < 200; t++) {
    const { fg, bg } = sampleFgBg(
      cue,
      { fgFraction: 0.3, bgFraction: 0.2, fgCount: 3, bgCount: 2 },
      rng,
    );
    assertEquals(fg.length, 3);
    assertEquals(bg.length, 2);
    assert(fg.every((p) => p >= 14), `fg ${fg} within top 6 (patches 14..19)`);
    assert(bg.every((p) => p <= 3), `bg ${bg} within bottom 4 (patches 0..3)`);
    assertEquals(new Set(fg).size, 3);
    assertEquals(new Set(bg).size, 2);
  }
});

Deno.test("sampler: FG probability ∝ cue value, BG uniform; seeded draws repeat", () => {
  const map = new Float32Array([0, 0, 0.25, 0.75]); // top 50 %: patches 3 (0.75) and 2 (0.25)
  const rng = new Rng(7);
  let three = 0, bgZero = 0;
  const T = 4000;
  for (let t = 0; t < T; t++) {
    const s = sampleFgBg(map, { fgFraction: 0.5, bgFraction: 0.5, fgCount: 1, bgCount: 1 }, rng);
    if (s.fg[0] === 3) three++;
    if (s.bg[0] === 0) bgZero++;
  }
  assertAlmostEquals(three / T, 0.75, 0.03);
  assertAlmostEquals(bgZero / T, 0.5, 0.03);
  const cfg = { fgFraction: 0.6, bgFraction: 0.1, fgCount: 4, bgCount: 4 };
  assertEquals(sampleFgBg(cue, cfg, new Rng(3)), sampleFgBg(cue, cfg, new Rng(3)));
});

Deno.test("sampler: all-zero map draws uniformly; overlapping fractions keep FG and BG disjoint", () => {
  const zero = new Float32Array(10);
  const s = sampleFgBg(
    zero,
    { fgFraction: 0.5, bgFraction: 0.5, fgCount: 5, bgCount: 5 },
    new Rng(0),
  );
  assertEquals(s.fg.length, 5);
  const o = sampleFgBg(
    cue,
    { fgFraction: 0.9, bgFraction: 0.5, fgCount: 20, bgCount: 20 },
    new Rng(0),
  );
  assertEquals(o.fg.length, 18);
  assertEquals(o.bg.length, 2);
  assert(!o.fg.some((p) => o.bg.includes(p)), "disjoint");
});

Deno.test("sampleBatchMasks: one mask row per image; flipped views sample the mirrored map", () => {
  const grid: [number, number] = [2, 3];
  const maps = new Float32Array([0, 0, 1, 0, 0, 0.5, /* image 1 */ 1, 0, 0, 0, 0, 0]);
  assertEquals(Array.from(flipMapHorizontal(maps.subarray(0, 6), 2, 3)), [1, 0, 0, 0.5, 0, 0]);
  const cfg = { fgFraction: 1 / 6, bgFraction: 0.5, fgCount: 1, bgCount: 1 };
  const m = sampleBatchMasks(maps, grid, [0, 0, 1], cfg, new Rng(2), [false, true, false]);
  assertEquals(Array.from(m.fg), [
    0,
    0,
    1,
    0,
    0,
    0,
    /* flipped */ 1,
    0,
    0,
    0,
    0,
    0,
    /* image 1 */ 1,
    0,
    0,
    0,
    0,
    0,
  ]);
  for (let i = 0; i < 3; i++) {
    assertEquals(m.bg.subarray(i * 6, i * 6 + 6).reduce((a, b) => a + b, 0), 1);
  }
});
