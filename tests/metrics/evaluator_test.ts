import { assert, assertAlmostEquals, assertEquals } from "../assert.ts";
import { BoxEvaluator, camThresholds, classRank, resizeBoxTo } from "../../lib/metrics/box.ts";
import { combineGtMasks, MaskEvaluator, pairwiseSum } from "../../lib/metrics/mask.ts";
import { quantizeScoremap } from "../../lib/metrics/scoremap.ts";
import type { Box, WsolMetadata } from "../../lib/data/metadata.ts";
import { InputError } from "../../lib/io/errors.ts";
import { discMask, FIXTURES, type MapSpec, synthMap, u8Sum } from "./synthetic.ts";

// deno-lint-ignore no-explicit-any
const DATA = FIXTURES.dataset as any;
// deno-lint-ignore no-explicit-any
const IMAGES = DATA.images as any[];
const MAPS = IMAGES.map((im) => synthMap(im.spec as MapSpec));

function metadata(): WsolMetadata {
  return {
    imageIds: IMAGES.map((im) => im.id),
    classLabels: new Map(IMAGES.map((im) => [im.id, im.label])),
    imageSizes: new Map(IMAGES.map((im) => [im.id, im.size])),
    boxes: new Map(IMAGES.map((im) => [im.id, im.boxes as Box[]])),
    masks: new Map(),
    ignoreMasks: new Map(),
  };
}

function close(got: number[], want: (number | null)[], tol: number, what: string) {
  assertEquals(got.length, want.length, `${what} length`);
  got.forEach((g, i) => {
    if (want[i] === null) assert(Number.isNaN(g), `${what}[${i}] ${g} should be NaN`);
    else assertAlmostEquals(g, want[i]!, tol, `${what}[${i}]`);
  });
}

Deno.test("synthetic dataset: maps regenerate bit-identically", () => {
  assertEquals(MAPS.map((m) => u8Sum(quantizeScoremap(m).u8)), DATA.u8sums);
  const md = metadata();
  IMAGES.forEach((im, i) => {
    const gt = im.boxes.map((b: Box) => resizeBoxTo(b, md.imageSizes.get(im.id)!, [224, 224]));
    assertEquals(gt, DATA.gt224[i], `resize_bbox of ${im.id}`);
  });
});

for (const method of ["sweep", "per-threshold"] as const) {
  for (
    const [key, interval, ious] of [
      ["0.01", 0.01, [30, 50, 70]],
      ["0.05", 0.05, [30, 50, 70]],
      ["0.01-iou-50-60", 0.01, [50, 60]],
    ] as const
  ) {
    Deno.test(`BoxEvaluator (${method}, ${key}): equals the Python reference`, () => {
      if (method === "per-threshold" && key !== "0.05") return; // slow path: one grid suffices
      const want = DATA.boxes[key];
      const ev = new BoxEvaluator({
        metadata: metadata(),
        camCurveInterval: interval,
        iouThresholds: [...ious],
        method,
      });
      IMAGES.forEach((im, i) => ev.accumulate(MAPS[i], im.id, im.scores));
      const m = ev.compute();
      assertEquals(m.count, want.count);
      assertEquals(m.iouThresholds, want.iouThresholds);
      for (const k of ["maxBoxAcc", "maxBoxAccV2", "top1Loc", "top5Loc", "top1Cls", "top5Cls"]) {
        // deno-lint-ignore no-explicit-any
        assertAlmostEquals((m as any)[k], want[k], 1e-9, k);
      }
      assertEquals(m.gtKnownLoc, m.maxBoxAcc);
      for (const mode of ["largest", "multi"] as const) {
        m[mode].forEach((c, di) => {
          const w = want[mode][di];
          const what = `${mode} δ=${c.iou}`;
          assertEquals(c.iou, w.iou);
          close(c.accuracy, w.accuracy, 1e-9, `${what} accuracy`);
          close(c.top1Loc!, w.top1Loc, 1e-9, `${what} top1Loc`);
          close(c.top5Loc!, w.top5Loc, 1e-9, `${what} top5Loc`);
          assertAlmostEquals(c.max, w.max, 1e-9, `${what} max`);
          assertEquals(c.bestTau, w.bestTau, `${what} best τ`);
        });
      }
    });
  }
}

Deno.test("BoxEvaluator: without class scores there are no Top-k numbers", () => {
  const ev = new BoxEvaluator({ metadata: metadata() });
  IMAGES.forEach((im, i) => ev.accumulate(MAPS[i], im.id));
  const m = ev.compute();
  assertAlmostEquals(m.maxBoxAcc, DATA.boxes["0.01"].maxBoxAcc, 1e-9);
  assertEquals([m.top1Loc, m.top5Loc, m.top1Cls, m.largest[0].top1Loc], [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

Deno.test("BoxEvaluator: rejects unknown ids, repeats and bad maps", () => {
  const ev = new BoxEvaluator({ metadata: metadata() });
  const id = IMAGES[0].id;
  const bad = (fn: () => void, part: string) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    assert(err instanceof InputError && err.message.includes(part), `${err} lacks '${part}'`);
  };
  bad(() => ev.accumulate(MAPS[0], "nope.jpg"), "not in the metadata");
  bad(() => ev.accumulate(new Float32Array(100), id), "expected 224x224");
  const nan = MAPS[0].slice();
  nan[7] = NaN;
  bad(() => ev.accumulate(nan, id), "NaN");
  ev.accumulate(MAPS[0], id);
  bad(() => ev.accumulate(MAPS[0], id), "twice");
  assertEquals(ev.count, 1);
  let threw = false;
  try {
    new BoxEvaluator({ metadata: metadata() }).compute();
  } catch {
    threw = true;
  }
  assert(threw, "compute() with no image must throw");
});

Deno.test("camThresholds and classRank", () => {
  assertEquals(camThresholds(0.25), [0, 0.25, 0.5, 0.75]);
  assertEquals(camThresholds(0.001).length, 1000);
  assertEquals(camThresholds(0.03).length, 34); // np.arange(0, 1, 0.03)
  assertEquals(camThresholds(0.3)[3], 3 * 0.3); // 0.8999999999999999, as NumPy
  assertEquals(classRank([1, 5, 5, 2], 2), 1); // tie with a lower index ranks first
  assertEquals(classRank([1, 5, 5, 2], 1), 0);
  assertEquals(classRank([9, 5, 5, 2], 3), 3);
});

function gtMasks(): Uint8Array[] {
  return IMAGES.map((im) => {
    const inst = im.mask.discs.map(([cx, cy, r]: number[]) => discMask(224, 224, cx, cy, r));
    const ig = im.mask.ignore
      ? discMask(224, 224, ...(im.mask.ignore as [number, number, number]))
      : undefined;
    return combineGtMasks(inst, ig);
  });
}

Deno.test("MaskEvaluator: PxAP and curve equal the Python reference", () => {
  const masks = gtMasks();
  assert(masks.some((m) => m.includes(255)), "ignore regions present");
  for (const key of ["0.01", "0.05"]) {
    const ev = new MaskEvaluator({ camCurveInterval: Number(key) });
    IMAGES.forEach((im, i) => ev.accumulate(MAPS[i], im.id, masks[i]));
    const m = ev.compute();
    const want = DATA.pxap[key];
    assertAlmostEquals(m.pxap, want.pxap, 1e-9, `pxap ${key}`);
    close(m.curve.precision, want.precision, 1e-12, "precision");
    close(m.curve.recall, want.recall, 1e-12, "recall");
    assertEquals(m.count, IMAGES.length);
  }
});

Deno.test("MaskEvaluator: ignored pixels do not count; score 1.0 falls in the [1, 2) bin", () => {
  const n = 224 * 224;
  const map = new Float32Array(n);
  const mask = new Uint8Array(n);
  map.fill(1, 0, 10); // 10 positives at score 1
  mask.fill(1, 0, 10);
  map.fill(1, 10, 20); // 10 confident pixels in the ignore region
  mask.fill(255, 10, 20);
  const ev = new MaskEvaluator();
  ev.accumulate(map, "a", mask);
  assertEquals(ev.compute().pxap, 100);
  mask.fill(0, 10, 20); // same pixels counted as background: precision 1/2
  const ev2 = new MaskEvaluator();
  ev2.accumulate(map, "a", mask);
  assertEquals(ev2.compute().pxap, 50);
});

Deno.test("pairwiseSum: NumPy's pairwise float64 summation", () => {
  const a = Array.from({ length: 1000 }, (_, i) => 1 / (i + 1) + 1e-3 * Math.sin(i));
  let seq = 0;
  for (const v of a) seq += v;
  assertAlmostEquals(pairwiseSum(a), seq, 1e-12);
  assertEquals(pairwiseSum([1, 2, 3]), 6);
  // 1e16 + 1 + 1 + … loses every 1 sequentially; NumPy's blocks keep some (values from NumPy)
  assertEquals(pairwiseSum([1e16, ...Array(15).fill(1)]), 1.0000000000000014e+16);
  assertEquals(pairwiseSum([1e16, ...Array(300).fill(1)]), 1.0000000000000292e+16);
});
