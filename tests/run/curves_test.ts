/**
 * Per-epoch curves (lib/run/curves.ts) on the ci profile, in a temporary cache and runs
 * folder: one point per scored epoch, best epochs are the argmax, and the last points equal
 * the held-out numbers a plain run of the same config records (same training, same images).
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { resolveRunConfig } from "../../lib/config/resolve.ts";
import { disposeRunInputs } from "../../lib/run/inputs.ts";
import { runConfig } from "../../lib/run/run.ts";
import {
  bestEpoch,
  computeCurves,
  type Curve,
  type CurvePoint,
  type CurvesRecord,
  peakAgreement,
} from "../../lib/run/curves.ts";
import { curvesPeakSentence, epochCurvesFigure } from "../../lib/report/curves_figure.ts";
import { errorLine, runTask } from "../tasks/run_task.ts";

await initBackend("wasm");

const pt = (epoch: number, top1Cls: number, maxBoxAccV2: number): CurvePoint => ({
  epoch,
  loss: 1,
  top1Cls,
  top5Cls: 0,
  maxBoxAcc: 0,
  maxBoxAccV2,
  top1Loc: 0,
});

Deno.test("bestEpoch / peakAgreement: argmax, earliest on ties, what each peak costs", async () => {
  const points = [pt(1, 10, 60), pt(2, 30, 70), pt(3, 50, 65), pt(4, 50, 62)];
  assertEquals(bestEpoch(points, "top1Cls"), 3);
  assertEquals(bestEpoch(points, "maxBoxAccV2"), 2);
  const curve: Curve = {
    method: "cam",
    epochs: 4,
    evalEvery: 1,
    points,
    best: { top1Cls: 3, top5Cls: 1, maxBoxAcc: 1, maxBoxAccV2: 2, top1Loc: 1 },
  };
  const a = peakAgreement(curve);
  assertEquals([a.cls, a.loc, a.gap, a.coincide], [3, 2, -1, false]);
  assertEquals(a.clsLostAtLocPeak, 20);
  assertEquals(a.locLostAtClsPeak, 5);
  assertEquals(peakAgreement({ ...curve, points: [pt(1, 5, 5), pt(2, 9, 9)] }).coincide, true);
  await assertRejects(() => bestEpoch([], "top1Cls"), "no points");
});

Deno.test("computeCurves: a point per scored epoch; the last equal a run's held-out numbers", async () => {
  const root = await Deno.makeTempDir();
  const cacheDir = `${root}/cache`, runsDir = `${root}/runs`;
  try {
    const cfg = await resolveRunConfig({ file: "configs/default/base.json", profile: "ci" });
    const opts = { cacheDir, runsDir, workers: 1, progress: false as const };
    const { record } = await computeCurves(cfg, { ...opts, evalEvery: { cam: 7 } });
    const ted = record.curves.tedloc!, cam = record.curves.cam!;
    assertEquals(record.heldOut, "val split");
    assertEquals(ted.points.map((p) => p.epoch), [...Array(cfg.train.epochs)].map((_, i) => i + 1));
    const camEpochs = [...Array(cfg.cam.epochs)].map((_, i) => i + 1)
      .filter((e) => e % 7 === 0 || e === cfg.cam.epochs);
    assertEquals(cam.points.map((p) => p.epoch), camEpochs);
    for (const c of [ted, cam]) {
      for (const m of ["top1Cls", "maxBoxAcc", "maxBoxAccV2"] as const) {
        const top = Math.max(...c.points.map((p) => p[m]));
        assertEquals(c.points.find((p) => p.epoch === c.best[m])![m], top);
      }
    }
    // a plain run of the same config trains the same heads: its held-out numbers are the last points
    const { record: run } = await runConfig(cfg, opts);
    const lastT = ted.points.at(-1)!, lastC = cam.points.at(-1)!;
    for (const m of ["top1Cls", "maxBoxAcc", "maxBoxAccV2"] as const) {
      assertEquals(lastT[m], run.validation.tedloc[m], `tedloc ${m}`);
      assertEquals(lastC[m], run.validation.cam[m], `cam ${m}`);
    }
    // cached: read back, not recomputed
    const t0 = performance.now();
    const again = await computeCurves(cfg, { ...opts, evalEvery: { cam: 7 } });
    assert(performance.now() - t0 < 5000);
    assertEquals(again.record, record);
    await assertRejects(
      () => computeCurves(cfg, { ...opts, evalEvery: { tedloc: 0 } }),
      "evalEvery",
    );
  } finally {
    await disposeRunInputs();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("curvesPeakSentence / epochCurvesFigure: said and drawn from the curves", () => {
  const curve = (method: "tedloc" | "cam", points: CurvePoint[]): Curve => ({
    method,
    epochs: points.length,
    evalEvery: 1,
    points,
    best: {
      top1Cls: bestEpoch(points, "top1Cls"),
      top5Cls: 1,
      maxBoxAcc: bestEpoch(points, "maxBoxAcc"),
      maxBoxAccV2: bestEpoch(points, "maxBoxAccV2"),
      top1Loc: 1,
    },
  });
  const rec = {
    valIds: 300,
    heldOut: "held-out train",
    curves: {
      tedloc: curve("tedloc", [pt(1, 10, 60), pt(2, 30, 70)]),
      cam: curve("cam", [pt(1, 10, 60), pt(2, 30, 55)]),
    },
  } as unknown as CurvesRecord;
  const s = curvesPeakSentence("CUB-50", rec);
  assert(s.includes("TeD-Loc's Top-1 cls and MaxBoxAccV2 both peak at epoch 2 of 2"), s);
  assert(s.includes("CAM's Top-1 cls peaks at epoch 2 and its MaxBoxAccV2 at epoch 1"), s);
  assert(s.includes("gives up 5.0 MaxBoxAccV2 points"), s);
  assert(s.includes("The paper's pattern holds here"), s);
  const flipped = { ...rec, curves: { tedloc: rec.curves.cam, cam: rec.curves.tedloc } };
  const other = curvesPeakSentence("x", flipped as CurvesRecord);
  assert(other.includes("does not hold here: TeD-Loc's peaks are apart and CAM's coincide"), other);
  assert(s.startsWith("CUB-50 (300 held-out training images): "), s);
  const fig = epochCurvesFigure(rec);
  const stars = fig.data.filter((t) => (t as { mode: string }).mode === "markers");
  assertEquals(stars.length, 6); // 2 heads × 3 metrics
  assertEquals((stars[1] as { x: number[] }).x, [2]); // TeD-Loc MaxBoxAccV2 best at epoch 2
});

Deno.test("curves task: bad flags exit 2 naming the flag, before any work", async () => {
  for (
    const [args, want] of [
      [["--method", "gradcam"], "--method"],
      [["--val-fraction", "1.5"], "--val-fraction"],
      [["--every-cam", "0"], "--every-cam"],
      [["--dataset", "imagenet"], "--dataset"],
    ] as const
  ) {
    const r = await runTask("curves.ts", [...args]);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert(errorLine(r).includes(want), r.stderr);
  }
});
