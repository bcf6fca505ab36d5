/**
 * Box extraction over the CAM threshold grid on 224×224 maps: the reference's way
 * (binarize + trace contours at every τ, both box modes) vs the one-sweep union–find.
 * Both produce the per-τ best IoU against a GT box in the largest- and multi-contour modes
 * (what BoxEvaluator needs). Run: deno bench -A bench/metrics_bench.ts
 */
import {
  boxesAtThreshold,
  camThresholds,
  iouCurvesAllThresholds,
  normalizeScoremap,
  quantizeScoremap,
  resizeBicubic,
  wsolIou,
} from "../lib/metrics/mod.ts";
import type { Box } from "../lib/data/metadata.ts";
import { Rng } from "../lib/util/rng.ts";

const rng = new Rng(2024);
/** A CAM-like map: a random 14×14 grid with a few hot cells, bicubic to 224, normalised. */
function camLike(): Float32Array {
  const g = new Float32Array(196).map(() => rng.next() * 0.3);
  for (let k = 0; k < 3; k++) g[Math.floor(rng.next() * 196)] = 1;
  const up = resizeBicubic(g, 14, 14, 224, 224);
  return normalizeScoremap(up.map((v) => Math.max(0, v)));
}
/** The worst case for contour work: uniform noise (thousands of components and holes). */
function noise(): Float32Array {
  return new Float32Array(224 * 224).map(() => rng.next());
}

const gt: Box[] = [[40, 50, 170, 190]];
const maps = { cam: camLike(), noise: noise() };

function perThreshold(map: Float32Array, taus: number[]): number {
  const { u8, max } = quantizeScoremap(map);
  let acc = 0;
  for (const tau of taus) {
    const b = boxesAtThreshold(u8, max, 224, 224, tau);
    acc += wsolIou(b.largest, gt[0]);
    for (const box of b.all) acc += wsolIou(box, gt[0]);
  }
  return acc;
}

function sweep(map: Float32Array, taus: number[]): number {
  const { u8, max } = quantizeScoremap(map);
  const c = iouCurvesAllThresholds(u8, max, 224, 224, taus, gt);
  return c.largest[0] + c.multi[0];
}

for (const step of [0.001, 0.01]) {
  const taus = camThresholds(step);
  for (const [name, map] of Object.entries(maps)) {
    const group = `${name} map, step ${step}`;
    Deno.bench(`per-threshold (${taus.length} × threshold + findContours)`, { group }, () => {
      perThreshold(map, taus);
    });
    Deno.bench("one sweep (union–find)", { group, baseline: true }, () => {
      sweep(map, taus);
    });
  }
}

/**
 * `deno run -A bench/metrics_bench.ts`: the same comparison measured as process CPU time,
 * the two methods interleaved and the median of the per-round ratios reported — steadier
 * than wall time on a shared machine.
 */
if (import.meta.main && !Deno.args.includes("--no-interleave")) {
  const { default: process } = await import("node:process");
  const cpuMs = () => process.cpuUsage().user / 1000;
  const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
  for (const step of [0.001, 0.01]) {
    const taus = camThresholds(step);
    for (const [name, map] of Object.entries(maps)) {
      const per: number[] = [], one: number[] = [], ratio: number[] = [];
      for (let round = 0; round < 7; round++) {
        let t0 = cpuMs();
        perThreshold(map, taus);
        const a = cpuMs() - t0;
        t0 = cpuMs();
        const reps = 10;
        for (let i = 0; i < reps; i++) sweep(map, taus);
        const b = (cpuMs() - t0) / reps;
        per.push(a);
        one.push(b);
        ratio.push(a / b);
      }
      console.log(
        `${name} map, step ${step}: per-threshold ${median(per).toFixed(1)} ms, ` +
          `sweep ${median(one).toFixed(2)} ms CPU, ratio ${
            median(ratio).toFixed(1)
          }× (median of 7)`,
      );
    }
  }
}
