import { assert, assertEquals } from "../assert.ts";
import { boxesAtThreshold, type ThresholdBoxes } from "../../lib/metrics/contours.ts";
import {
  boxesAllThresholds,
  fillHoleLevels,
  iouCurvesAllThresholds,
  wsolIou,
} from "../../lib/metrics/sweep.ts";
import { camThresholds } from "../../lib/metrics/box.ts";
import { centerGaussianMap, quantizeScoremap } from "../../lib/metrics/scoremap.ts";
import { Rng } from "../../lib/util/rng.ts";
import { FIXTURES, type MapSpec, synthMap } from "./synthetic.ts";

const sortedKey = (boxes: number[][]) => boxes.map((b) => b.join()).sort().join(";");

function assertSameBoxes(got: ThresholdBoxes, want: ThresholdBoxes, where: string): void {
  assertEquals(got.largest, want.largest, `${where} largest`);
  assertEquals(sortedKey(got.all), sortedKey(want.all), `${where} all`);
}

/** Sweep and per-threshold tracing agree at every τ of the grid. */
function checkMap(map: ArrayLike<number>, h: number, w: number, taus: number[], name: string) {
  const { u8, max } = quantizeScoremap(map);
  const sweep = boxesAllThresholds(u8, max, h, w, taus);
  taus.forEach((tau, i) => {
    assertSameBoxes(sweep[i], boxesAtThreshold(u8, max, h, w, tau), `${name} τ=${tau}`);
  });
}

Deno.test("sweep: equals the cv2 fixture boxes at every τ", () => {
  const taus = camThresholds(0.01);
  // deno-lint-ignore no-explicit-any
  for (const c of FIXTURES.boxes as any[]) {
    const spec = c.spec as MapSpec;
    const { u8, max } = quantizeScoremap(synthMap(spec));
    const got = boxesAllThresholds(u8, max, spec.h, spec.w, taus);
    taus.forEach((tau, i) => {
      assertEquals(c.tauLevels[i], Math.trunc(tau * max), `level of τ=${tau}`);
      const want = c.levels[String(c.tauLevels[i])];
      const all: number[][] = [];
      for (let k = 0; k < want.all.length; k += 4) all.push(want.all.slice(k, k + 4));
      assertSameBoxes(got[i], { largest: want.largest, all } as ThresholdBoxes, spec.name);
    });
  }
});

/** Random maps of many kinds, including the adversarial ones the brief lists. */
function randomMap(rng: Rng, h: number, w: number, kind: number): Float32Array {
  const m = new Float32Array(h * w);
  const r = () => rng.next();
  switch (kind) {
    case 0: // noise with a few levels: plateaus, ties, holes everywhere
    {
      const levels = 2 + Math.floor(r() * 6);
      for (let i = 0; i < m.length; i++) m[i] = Math.floor(r() * levels) / (levels - 1);
      break;
    }
    case 1: // continuous noise
      for (let i = 0; i < m.length; i++) m[i] = r();
      break;
    case 2: // sparse single pixels (area-0 ties) at equal value
      for (let i = 0; i < m.length; i++) m[i] = r() < 0.05 ? 1 : r() < 0.1 ? 0.5 : 0;
      break;
    case 3: // rings and discs around random centres, quantised
    {
      const n = 1 + Math.floor(r() * 4);
      const cs = Array.from({ length: n }, () => [r() * w, r() * h, 1 + r() * w / 3, r()]);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let v = 0;
          for (const [cx, cy, rad, kindR] of cs) {
            const d = Math.hypot(x - cx, y - cy);
            v = Math.max(v, kindR < 0.5 ? (Math.abs(d - rad) < 1.2 ? 1 : 0) : d < rad ? 0.6 : 0);
          }
          m[y * w + x] = v;
        }
      }
      break;
    }
    case 4: // diagonal lines and checkerboards: 8- vs 4-connectivity
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          m[y * w + x] = (x + y) % 2 === 0 ? (r() < 0.8 ? 1 : 0.3) : (x - y) % 3 === 0 ? 0.6 : 0;
        }
      }
      break;
    default: // all equal
      m.fill(kind === 5 ? 0.7 : 0);
  }
  return m;
}

Deno.test("sweep: equals per-threshold tracing on random and adversarial maps", () => {
  const rng = new Rng(12345);
  const taus = camThresholds(0.01);
  let maps = 0;
  for (let k = 0; k < 140; k++) {
    const h = 1 + Math.floor(rng.next() * 30), w = 1 + Math.floor(rng.next() * 30);
    const kind = k % 7;
    checkMap(randomMap(rng, h, w, kind), h, w, taus, `map ${k} kind ${kind} ${h}x${w}`);
    maps++;
  }
  // two full-size maps, every distinct level (fine grid)
  for (const kind of [0, 3]) {
    checkMap(randomMap(rng, 224, 224, kind), 224, 224, camThresholds(0.004), `224 kind ${kind}`);
  }
  assert(maps === 140);
});

Deno.test("sweep: hand-made cases (one pixel, diagonal, border ring, holes)", () => {
  const taus = [0, 0.5, 0.99];
  // one pixel: box reaches one past it
  const one = new Float32Array(25);
  one[12] = 1;
  const { u8, max } = quantizeScoremap(one);
  assertEquals(boxesAllThresholds(u8, max, 5, 5, taus)[1].largest, [2, 2, 3, 3]);
  // a ring along the image border: its outer contour and its hole contour (box clipped)
  const ring = new Float32Array(49);
  for (let i = 0; i < 7; i++) {
    ring[i] =
      ring[42 + i] =
      ring[i * 7] =
      ring[i * 7 + 6] =
        1;
  }
  const r = quantizeScoremap(ring);
  assertEquals(sortedKey(boxesAllThresholds(r.u8, r.max, 7, 7, [0.5])[0].all), "0,0,6,6;0,0,6,6");
  // all-zero map: no contour at any τ
  const z = quantizeScoremap(new Float32Array(16));
  for (const b of boxesAllThresholds(z.u8, z.max, 4, 4, taus)) {
    assertEquals(b, { largest: [0, 0, 0, 0], all: [[0, 0, 0, 0]] });
  }
  // a smooth hole-free map takes the single-sweep path; a ring map the three-sweep one
  const gauss = centerGaussianMap(40, 9);
  assertEquals(
    Array.from(fillHoleLevels(quantizeScoremap(gauss).u8, 40, 40)),
    Array.from(quantizeScoremap(gauss).u8),
  );
  checkMap(gauss, 40, 40, camThresholds(0.01), "gaussian");
  for (const [name, m] of [["one", one], ["ring", ring]] as const) {
    const s = Math.sqrt(m.length);
    checkMap(m, s, s, camThresholds(0.01), name);
  }
});

Deno.test("fillHoleLevels: grayscale hole filling", () => {
  // 5×5: a ring of 200 around a pit of 10, border 0
  const u8 = new Uint8Array(25);
  for (let y = 1; y < 4; y++) for (let x = 1; x < 4; x++) u8[y * 5 + x] = 200;
  u8[12] = 10;
  const f = fillHoleLevels(u8, 5, 5);
  assertEquals(f[12], 200);
  assertEquals(f[0], 0);
  u8[11] = 5; // a channel of 5 from the pit to the image border lowers the pit's fill to 10
  u8[10] = 5;
  assertEquals(Array.from(fillHoleLevels(u8, 5, 5).subarray(10, 13)), [5, 5, 10]);
});

Deno.test("iouCurvesAllThresholds: equals IoUs of per-threshold boxes", () => {
  const rng = new Rng(7);
  const taus = camThresholds(0.01);
  for (let k = 0; k < 30; k++) {
    const h = 5 + Math.floor(rng.next() * 40), w = 5 + Math.floor(rng.next() * 40);
    const map = randomMap(rng, h, w, k % 5);
    const gts = Array.from({ length: 1 + (k % 3) }, () => {
      const x0 = Math.floor(rng.next() * w), y0 = Math.floor(rng.next() * h);
      return [
        x0,
        y0,
        x0 + Math.floor(rng.next() * (w - x0)),
        y0 + Math.floor(rng.next() * (h - y0)),
      ];
    });
    const { u8, max } = quantizeScoremap(map);
    const got = iouCurvesAllThresholds(u8, max, h, w, taus, gts);
    taus.forEach((tau, i) => {
      const b = boxesAtThreshold(u8, max, h, w, tau);
      const best = (box: number[]) => Math.max(...gts.map((g) => wsolIou(box, g)));
      assertEquals(got.largest[i], best(b.largest), `map ${k} τ ${tau} largest`);
      assertEquals(got.multi[i], Math.max(...b.all.map(best)), `map ${k} τ ${tau} multi`);
    });
  }
});

Deno.test("wsolIou: +1 pixel convention", () => {
  assertEquals(wsolIou([0, 0, 9, 9], [5, 0, 14, 9]), 50 / 150);
  assertEquals(wsolIou([0, 0, 0, 0], [0, 0, 0, 0]), 1);
  assertEquals(wsolIou([0, 0, 1, 1], [3, 3, 4, 4]), 0);
});
