/**
 * `deno task anchor-stats --anchors F`: how similar the anchors are before and after each
 * orthogonalization (none / qr / symmetric), with the time each method takes.
 *
 * @module
 */
import { readAnchors } from "../lib/text/anchors.ts";
import { anchorStatistics, rawCosines } from "../lib/text/analysis.ts";
import {
  ORTHO_METHODS,
  orthogonalizeAnchors,
  type OrthoMethod,
} from "../lib/text/orthogonalize.ts";
import { floatFlag, parseCli, requireFlag, runCli, UsageError } from "../lib/util/cli.ts";
import { throwIfInterrupted } from "../lib/util/interrupt.ts";

const SPEC = {
  usage: "deno task anchor-stats --anchors F [--methods none,qr,symmetric] [--lift-scale E]",
  description: "Print cosine statistics between class anchors (mean, mean |·|, max with the " +
    "pair, mean nearest-neighbour cosine) for each orthogonalization method, its output " +
    "dimension, max |QQᵀ − I| and its run time.",
  options: {
    anchors: { type: "string" as const, help: "anchors file (.safetensors)" },
    methods: {
      type: "string" as const,
      help: "comma-separated methods",
      default: "none,qr,symmetric",
    },
    "lift-scale": {
      type: "string" as const,
      help: "ε of the [T; εI] lift when C > D",
      default: "0.1",
    },
  },
};

/** One row of the statistics table. */
export interface AnchorStatsRow {
  method: OrthoMethod;
  dim: number;
  lifted: boolean;
  ms: number;
  meanCos: number;
  meanAbsCos: number;
  maxCos: number;
  maxPair: [string, string];
  meanNearestCos: number;
  orthError: number;
  /** cos(anchor, raw anchor): mean and minimum over classes. */
  meanRawCos: number;
  minRawCos: number;
}

/** The task's body (exported for tests). */
export async function anchorStatsMain(args: string[]): Promise<AnchorStatsRow[] | null> {
  const a = parseCli(args, SPEC);
  if (a === null) return null;
  const path = requireFlag(a, "anchors");
  const methods = (a.values.methods as string).split(",").map((m) => m.trim());
  for (const m of methods) {
    if (!ORTHO_METHODS.includes(m as OrthoMethod)) {
      throw new UsageError(`unknown method '${m}' (use ${ORTHO_METHODS.join(", ")})`);
    }
  }
  const liftScale = floatFlag(a, "lift-scale", { above: 0 })!;
  const an = await readAnchors(path);
  console.log(`${path}: ${an.count} anchors × ${an.dim} (${an.source})`);
  console.log(
    "method     dim  lifted      ms  mean cos  mean|cos|  max cos  mean NN cos  " +
      "max|QQᵀ−I|  cos(raw) mean/min  most similar pair",
  );
  const rows: AnchorStatsRow[] = [];
  for (const method of methods as OrthoMethod[]) {
    throwIfInterrupted(); // symmetric on large C takes a while: Ctrl-C between methods
    const t0 = performance.now();
    const r = orthogonalizeAnchors(an.vectors, an.count, an.dim, method, { liftScale });
    const ms = performance.now() - t0;
    const st = anchorStatistics(r.vectors, an.count, r.dim);
    const kept = rawCosines(an.vectors, r.vectors, an.count, an.dim, r.dim);
    const row: AnchorStatsRow = {
      method,
      dim: r.dim,
      lifted: r.lifted,
      ms,
      meanCos: st.meanOffDiagonal,
      meanAbsCos: st.meanAbsOffDiagonal,
      maxCos: st.maxOffDiagonal,
      maxPair: [an.classNames[st.maxPair[0]], an.classNames[st.maxPair[1]]],
      meanNearestCos: st.meanNearestCosine,
      orthError: Math.max(Math.abs(st.maxOffDiagonal), Math.abs(st.minOffDiagonal)),
      meanRawCos: kept.reduce((x, y) => x + y, 0) / an.count,
      minRawCos: Math.min(...kept),
    };
    rows.push(row);
    console.log(
      `${method.padEnd(9)} ${String(r.dim).padStart(5)}  ${String(r.lifted).padEnd(6)} ${
        ms.toFixed(0).padStart(7)
      }  ${row.meanCos.toFixed(4).padStart(8)}  ${row.meanAbsCos.toFixed(4).padStart(9)}  ${
        row.maxCos.toFixed(4).padStart(7)
      }  ${row.meanNearestCos.toFixed(4).padStart(11)}  ${
        row.orthError.toExponential(1).padStart(10)
      }  ${row.meanRawCos.toFixed(3).padStart(8)}/${row.minRawCos.toFixed(3).padEnd(8)}  ${
        row.maxPair.join(" / ")
      }`,
    );
  }
  return rows;
}

if (import.meta.main) await runCli(async () => void await anchorStatsMain(Deno.args));
