import { assert, assertEquals } from "../assert.ts";
import type { BoxMetrics } from "../../lib/metrics/box.ts";
import {
  cueAloneTable1Row,
  footnotedCsv,
  footnotedMarkdown,
  ORTHO_GEOMETRY_COLUMNS,
  orthoAblationRow,
  PAPER_TABLE1,
  PAPER_TABLE3,
  paperTable1Rows,
  TABLE1_COLUMNS,
  writeFootnotedTable,
} from "../../lib/report/mod.ts";

Deno.test("paper Table 1: TS-CAM and SCM CUB numbers sit in their sources' columns", () => {
  const ts = PAPER_TABLE1.find((r) => r.method === "TS-CAM")!;
  assertEquals([ts.cub.maxBoxAcc, ts.cub.top1Loc, ts.cub.top5Loc, ts.cub.gtKnownLoc], [
    null,
    71.3,
    83.8,
    87.7,
  ]);
  assertEquals(ts.cub.printed, [71.3, 83.8, 87.7]);
  const scm = PAPER_TABLE1.find((r) => r.method === "SCM")!;
  assertEquals([scm.cub.top1Loc, scm.cub.top5Loc, scm.cub.gtKnownLoc], [76.4, 91.6, 96.6]);
  assertEquals(scm.ilsvrc.gtKnownLoc, 68.8);
  // No row may claim a Top-1 Loc above its own localization accuracy (the rotation's symptom).
  for (const r of PAPER_TABLE1) {
    for (const n of [r.cub, r.ilsvrc]) {
      const locAcc = n.maxBoxAcc ?? n.gtKnownLoc ?? null;
      if (locAcc !== null && n.top1Loc !== null) assert(n.top1Loc <= locAcc, r.method);
      if (n.printed) assert((n.notes ?? []).length > 0, `${r.method}: a difference needs a note`);
    }
  }
  assertEquals(PAPER_TABLE3.find((r) => r.method === "TS-CAM")!.top1LocCub, 71.3);
});

Deno.test("footnoted tables: markers in Markdown, notes below; CSV gets a notes column", async () => {
  const rows = paperTable1Rows("cub", ["TS-CAM", "SCM", "TeD-Loc"]);
  assertEquals(rows[0].maxBoxAcc, null);
  assertEquals(rows[0].gtKnownLoc, 87.7);
  const md = footnotedMarkdown(rows, TABLE1_COLUMNS);
  assert(md.includes("TS-CAM (CUB-200) [1]"), md);
  assert(md.includes("SCM (CUB-200) [2]"), md);
  assert(!md.includes("TeD-Loc (CUB-200) ["), md);
  assert(md.includes("\n[1] TS-CAM's README gives Loc.Acc@1 71.3"), md);
  const csv = footnotedCsv(rows, TABLE1_COLUMNS);
  const [head, first, , last] = csv.trim().split("\n");
  assert(head.endsWith(",notes"), head);
  assert(first.includes("TS-CAM (CUB-200),,") && first.includes("fixed threshold"), first);
  assert(last.endsWith(","), last); // TeD-Loc: no note
  const dir = await Deno.makeTempDir();
  try {
    const out = await writeFootnotedTable(`${dir}/t1`, rows, TABLE1_COLUMNS);
    assertEquals(await Deno.readTextFile(out.md), md);
    assertEquals(await Deno.readTextFile(out.csv), csv);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cueAloneTable1Row: box metrics only, labelled as measured", () => {
  const metrics = { maxBoxAcc: 61.5, maxBoxAccV2: 55.25, gtKnownLoc: 61.5 } as BoxMetrics;
  const row = cueAloneTable1Row({ recipe: "inet5*cam*prior", metrics }, "CUB-50", "MobileNet");
  assertEquals(row.method, "pseudo-label cue alone (inet5*cam*prior)");
  assertEquals(row.source, "measured here (CUB-50, MobileNet)");
  assertEquals([row.maxBoxAcc, row.maxBoxAccV2, row.top1Loc, row.top1Cls], [
    61.5,
    55.25,
    null,
    null,
  ]);
  const md = footnotedMarkdown([row], TABLE1_COLUMNS);
  assert(md.includes("| 61.5 | 55.3 | – |"), md);
});

Deno.test("orthoAblationRow: Table 5 rows carry their anchors' geometry", () => {
  const metrics = { maxBoxAcc: 50, maxBoxAccV2: 40, top1Cls: 30 } as BoxMetrics;
  const row = orthoAblationRow("s", "raw anchors (none)", metrics, {
    meanCosine: 0.6021,
    nearestCosine: 0.869,
    effectiveRank: 9.34,
  });
  assertEquals([row.meanCos, row.nnCos, row.effRank], [0.6021, 0.869, 9.34]);
  const md = footnotedMarkdown([row], ORTHO_GEOMETRY_COLUMNS);
  assert(md.includes("| 0.602 | 0.869 | 9.3 |"), md);
});
