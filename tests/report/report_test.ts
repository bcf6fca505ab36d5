/**
 * lib/report: labelled table rows, fixed-decimal columns, shared figures, and localization
 * cases scored by IoU (a stub head whose map is its input, on a 14×14 grid).
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../assert.ts";
import {
  boxAccuracyCurveFigure,
  frameGtBoxes,
  localizationCases,
  matrixHeatmapFigure,
  measuredTable1Rows,
  numberColumn,
  PAPER_TABLE1,
  paperTable1Rows,
  rasterFigure,
  TABLE1_COLUMNS,
} from "../../lib/report/mod.ts";
import { tableMarkdown } from "../../lib/viz/table.ts";
import { BoxEvaluator, type BoxMetrics } from "../../lib/metrics/box.ts";
import type { WsolMetadata } from "../../lib/data/metadata.ts";
import type { FeatureSet } from "../../lib/model/encoder.ts";
import type { LocalizationHead } from "../../lib/model/baselines.ts";
import { initBackend } from "../../lib/backend/backend.ts";

await initBackend("cpu");

function metadata(boxes: Record<string, [number, number, number, number]>): WsolMetadata {
  const ids = Object.keys(boxes);
  return {
    imageIds: ids,
    classLabels: new Map(ids.map((id, i) => [id, i % 2])),
    imageSizes: new Map(ids.map((id) => [id, [448, 448]])),
    boxes: new Map(ids.map((id) => [id, [boxes[id]]])),
    masks: new Map(),
    ignoreMasks: new Map(),
  };
}

function metricsOf(meta: WsolMetadata, map: Float32Array): BoxMetrics {
  const ev = new BoxEvaluator({ metadata: meta, camCurveInterval: 0.05 });
  for (const id of meta.imageIds) ev.accumulate(map, id, [0.9, 0.1]);
  return ev.compute();
}

Deno.test("report tables: measured rows are labelled, the prior has no params, paper rows as printed", () => {
  const meta = metadata({ a: [100, 100, 300, 300] });
  const m = metricsOf(meta, new Float32Array(224 * 224).fill(0.5));
  const rows = measuredTable1Rows(
    [
      { method: "tedloc", metrics: m, params: { total: 2_500_000 }, msPerImage: 3.25 },
      { method: "center-prior", metrics: m, params: { total: 0 }, msPerImage: 0 },
    ],
    "CUB-50",
    "mobilenet_v1_0.75_224",
  );
  assertEquals(rows[0].source, "measured here (CUB-50, mobilenet_v1_0.75_224)");
  assertEquals(rows[0].method, "TeD-Loc (ours)");
  assertEquals(rows[0].paramsM, 2.5);
  assertEquals(rows[0].maxBoxAcc, m.maxBoxAcc);
  assertEquals(rows[1].source, "measured here (CUB-50, no network)");
  assertEquals(rows[1].paramsM, null);
  const paper = paperTable1Rows("cub", ["TeD-Loc"]);
  assertEquals(paper.length, 1);
  assertEquals(paper[0].source, "reported (paper, ViT-EVA-L)");
  const ted = PAPER_TABLE1.find((r) => r.method === "TeD-Loc")!;
  assertEquals([paper[0].maxBoxAcc, paper[0].top1Loc, paper[0].top5Loc], [98.7, 91.7, 97.6]);
  assertEquals(ted.ilsvrc.top1Loc, 70.0);
  const md = tableMarkdown(paper, TABLE1_COLUMNS);
  assert(md.includes("| 98.7 |") && md.includes("| – |"), md);
});

Deno.test("report tables: numberColumn keeps decimals on whole numbers and dashes missing values", () => {
  const md = tableMarkdown([{ x: 50 }, { x: 12.345 }, { x: null }], [numberColumn("x", "X", 1)]);
  assertEquals(md.split("\n").slice(2, 5), ["| 50.0 |", "| 12.3 |", "| – |"]);
});

Deno.test("report figures: τ curves with the best τ marked; heat map and raster sizes checked", () => {
  const meta = metadata({ a: [100, 100, 300, 300], b: [0, 0, 447, 447] });
  const m = metricsOf(meta, new Float32Array(224 * 224).map((_, i) => (i % 224) / 223));
  const fig = boxAccuracyCurveFigure([{ name: "x", metrics: m }]);
  assertEquals(fig.data.length, 2);
  const curve = m.largest.find((c) => c.iou === 50)!;
  assertEquals((fig.data[0] as { y: number[] }).y, curve.accuracy);
  assertEquals((fig.data[1] as { x: number[] }).x, [curve.bestTau]);
  let threw = false;
  try {
    boxAccuracyCurveFigure([{ name: "x", metrics: m }], { iou: 42 });
  } catch {
    threw = true;
  }
  assert(threw, "a missing IoU curve is an error");
  threw = false;
  try {
    matrixHeatmapFigure(new Float32Array(5), ["a", "b"]);
  } catch {
    threw = true;
  }
  assert(threw, "a matrix of the wrong size is an error");
  const r = rasterFigure(new Uint8Array([137, 80, 78, 71]), 300, 200);
  assertEquals([r.layout?.width, r.layout?.height], [300, 200]);
});

Deno.test("report cases: GT boxes on the 224 frame; IoU of the predicted box per image", async () => {
  // GT in a 448×448 image → halved on the 224 frame
  const meta = metadata({ hit: [96, 64, 287, 191], miss: [96, 64, 287, 191] });
  assertEquals(frameGtBoxes(meta, "hit"), [[48, 32, 143, 95]]);
  const grid: [number, number] = [14, 14], N = 196;
  const tokens = new Float32Array(2 * N);
  for (let y = 2; y < 6; y++) for (let x = 3; x < 9; x++) tokens[y * 14 + x] = 1; // on the GT
  for (let y = 10; y < 13; y++) for (let x = 10; x < 13; x++) tokens[N + y * 14 + x] = 1; // away
  const features: FeatureSet = {
    encoderId: "stub",
    ids: ["hit", "miss"],
    grid,
    dim: 1,
    stride: 16,
    cellOffset: 8,
    views: ["test"],
    tokens,
  };
  const seen: number[][] = [];
  const head: LocalizationHead = {
    name: "stub",
    numClasses: 2,
    predict(t, classes) {
      seen.push(classes ? Array.from(classes) : []);
      const B = t.shape[0];
      return {
        scores: tf.tile(tf.tensor2d([[1, 0]]), [B, 1]) as tf.Tensor2D,
        maps: t.reshape([B, N]) as tf.Tensor2D,
      };
    },
    parameterCount: () => 0,
    flops: () => 0,
    dispose: () => {},
  };
  const cases = await localizationCases(head, features, meta, 0.5);
  assertEquals(cases.map((c) => c.id), ["hit", "miss"]);
  assert(cases[0].iou > 0.8, `IoU on the GT block ${cases[0].iou}`);
  assertEquals(cases[1].iou, 0);
  assertEquals(seen, [[0, 1]], "class-specific heads get the GT classes");
  assertEquals(cases.map((c) => c.predicted), [0, 0]);
});
