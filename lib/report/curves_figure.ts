/**
 * Per-epoch held-out curves (lib/run/curves.ts) as a figure and as a sentence: Top-1 cls,
 * MaxBoxAcc and MaxBoxAccV2 of TeD-Loc and CAM against the epoch, each curve's best epoch
 * marked, and whether each head's classification and localization peaks coincide — the
 * paper's convergence claim, said from the numbers.
 *
 * @module
 */
import { PAPER_COLORWAY, paperLayout, type PlotlyFigure } from "../viz/figure.ts";
import { type Curve, type CurveMethod, type CurvesRecord, peakAgreement } from "../run/curves.ts";

const NAMES: Record<CurveMethod, string> = { tedloc: "TeD-Loc", cam: "CAM" };
const METRICS = [
  { key: "top1Cls", label: "Top-1 cls", dash: "solid" },
  { key: "maxBoxAccV2", label: "MaxBoxAccV2", dash: "dash" },
  { key: "maxBoxAcc", label: "MaxBoxAcc", dash: "dot" },
] as const;

/**
 * One figure of a curves record: a line per head and metric (colour = head, dash = metric),
 * a star on each line's best epoch (earliest on ties).
 *
 * @example
 * ```ts
 * await showFigure(epochCurvesFigure(record, { title: "CUB-50, 300 held-out images" }));
 * ```
 */
export function epochCurvesFigure(
  record: CurvesRecord,
  opts: { title?: string; columns?: 1 | 2 } = {},
): PlotlyFigure {
  const data: Record<string, unknown>[] = [];
  let maxEpoch = 1;
  (["tedloc", "cam"] as const).forEach((method, i) => {
    const c: Curve | undefined = record.curves[method];
    if (!c) return;
    maxEpoch = Math.max(maxEpoch, c.epochs);
    const color = PAPER_COLORWAY[i % PAPER_COLORWAY.length];
    for (const m of METRICS) {
      const best = c.points.find((p) => p.epoch === c.best[m.key])!;
      const name = `${NAMES[method]} ${m.label}`;
      data.push({
        type: "scatter",
        mode: "lines",
        name: `${name} (best ${best[m.key].toFixed(1)} @ ${best.epoch})`,
        x: c.points.map((p) => p.epoch),
        y: c.points.map((p) => p[m.key]),
        line: { width: 1.5, color, dash: m.dash },
        legendgroup: name,
      });
      data.push({
        type: "scatter",
        mode: "markers",
        x: [best.epoch],
        y: [best[m.key]],
        marker: { size: 9, symbol: "star", color },
        showlegend: false,
        legendgroup: name,
        hovertemplate: `${name}: best at epoch %{x}, %{y:.1f}%<extra></extra>`,
      });
    }
  });
  return {
    data,
    layout: paperLayout({ columns: opts.columns ?? 2, title: opts.title }, {
      xaxis: { title: { text: "epoch" }, range: [0, maxEpoch + 1] },
      yaxis: {
        title: { text: "held-out images (%)" },
        range: [0, 125],
        tickvals: [0, 20, 40, 60, 80, 100],
      },
      legend: { orientation: "h", x: 0.01, xanchor: "left", y: 0.99, yanchor: "top" },
    }),
  };
}

/**
 * Whether each head's Top-1 cls and MaxBoxAccV2 peaks coincide, in words computed from the
 * curves, with what taking one peak's epoch costs on the other metric, then whether the
 * paper's pattern (CAM's peaks apart, TeD-Loc's together) holds on this data.
 *
 * @example
 * ```ts
 * await print(curvesPeakSentence("CUB-50", record));
 * ```
 */
export function curvesPeakSentence(label: string, record: CurvesRecord): string {
  const parts: string[] = [];
  const together: Partial<Record<CurveMethod, boolean>> = {};
  for (const method of ["tedloc", "cam"] as const) {
    const c = record.curves[method];
    if (!c) continue;
    const a = peakAgreement(c, "maxBoxAccV2");
    together[method] = a.coincide;
    const every = c.evalEvery > 1 ? ` (scored every ${c.evalEvery} epochs)` : "";
    parts.push(
      a.coincide
        ? `${
          NAMES[method]
        }'s Top-1 cls and MaxBoxAccV2 both peak at epoch ${a.cls} of ${c.epochs}${every}`
        : `${
          NAMES[method]
        }'s Top-1 cls peaks at epoch ${a.cls} and its MaxBoxAccV2 at epoch ${a.loc} of ` +
          `${c.epochs}${every}, ${Math.abs(a.gap)} epoch${
            Math.abs(a.gap) === 1 ? "" : "s"
          } apart (the classification peak's epoch ` +
          `gives up ${a.locLostAtClsPeak.toFixed(1)} MaxBoxAccV2 points, the localization peak's ` +
          `${a.clsLostAtLocPeak.toFixed(1)} Top-1 cls points)`,
    );
  }
  let verdict = "";
  if (together.tedloc !== undefined && together.cam !== undefined) {
    verdict = together.tedloc && !together.cam
      ? " The paper's pattern holds here: CAM's peaks are apart, TeD-Loc's coincide."
      : " The paper's pattern (CAM's peaks apart, TeD-Loc's together) does not hold here: " +
        (together.tedloc
          ? "both models' peaks coincide."
          : together.cam
          ? "TeD-Loc's peaks are apart and CAM's coincide."
          : "neither model's peaks coincide.");
  }
  const images = record.heldOut === "val split"
    ? `${record.valIds} val-split images`
    : `${record.valIds} held-out training images`;
  return `${label} (${images}): ${parts.join("; ")}.${verdict}`;
}
