/** Tables over seeds: mean ± sd rows, their columns, and claims that say "within noise". */
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../assert.ts";
import {
  ABLATION_COLUMNS,
  ablationRow,
  meanOverSeeds,
  meanSd,
  seedClaim,
  seedColumns,
} from "../../lib/report/mod.ts";
import { tableMarkdown } from "../../lib/viz/table.ts";
import type { BoxMetrics } from "../../lib/metrics/box.ts";

const m = (v2: number, cls: number) =>
  ({ maxBoxAcc: v2 + 10, maxBoxAccV2: v2, top1Cls: cls, top1Loc: 1, top5Loc: 2 }) as BoxMetrics;

Deno.test("meanSd: sample sd (n − 1), 0 for one value", () => {
  const s = meanSd([1, 2, 3]);
  assertEquals([s.mean, s.sd, s.n], [2, 1, 3]);
  assertEquals(meanSd([5]).sd, 0);
});

Deno.test("meanOverSeeds + seedColumns: mean ± sd cells, rows checked across seeds", async () => {
  const perSeed = [70, 72, 74].map((v2, i) => [
    ablationRow("CUB-50", "QR", m(v2, 60 + i)),
    ablationRow("CUB-50", "raw", m(v2 - 5, 50)),
  ]);
  const rows = meanOverSeeds(perSeed);
  assertEquals(rows[0].maxBoxAccV2, 72);
  assertEquals(rows[0].maxBoxAccV2Sd, 2);
  assertAlmostEquals(rows[0].top1Cls as number, 61, 1e-9);
  assertEquals(rows[1].top1ClsSd, 0);
  assertEquals(rows[0].seeds, 3);
  const md = tableMarkdown(rows, seedColumns(ABLATION_COLUMNS));
  assert(md.includes("72.0 ± 2.0"), md);
  assert(md.includes("82.0 ± 2.0"), md); // MaxBoxAcc
  const csvCols = seedColumns(ABLATION_COLUMNS, { sdColumns: true }).map((c) => c.key);
  assert(csvCols.includes("maxBoxAccV2Sd") && csvCols.includes("seeds"), csvCols.join());
  // one seed: no Sd, so the plain format
  assertEquals(meanOverSeeds([perSeed[0]])[0].maxBoxAccV2Sd, undefined);
  assert(
    tableMarkdown([ablationRow("x", "y", m(70, 60))], seedColumns(ABLATION_COLUMNS)).includes(
      "| 70.0 |",
    ),
  );
  // rows that name different things cannot be averaged
  await assertRejects(
    () => meanOverSeeds([[ablationRow("a", "QR", m(1, 1))], [ablationRow("a", "raw", m(1, 1))]]),
    "differs between seeds",
  );
  await assertRejects(() => meanOverSeeds([[], [ablationRow("a", "b", m(1, 1))]]), "rows");
});

Deno.test("seedClaim: yes / NO, 'within noise' under one sd", () => {
  assertEquals(seedClaim({ mean: 70, sd: 1 }, { mean: 68, sd: 0.5 }).holds, "yes");
  assertEquals(seedClaim({ mean: 66, sd: 1 }, { mean: 68, sd: 0.5 }).holds, "NO");
  assertEquals(seedClaim({ mean: 69.4, sd: 0.6 }, { mean: 69.0, sd: 0.3 }).holds, "within noise");
  assertEquals(seedClaim({ mean: 68.8, sd: 0.3 }, { mean: 69.0, sd: 0.6 }).holds, "within noise");
  const one = seedClaim({ mean: 69.1, sd: 0 }, { mean: 69.0, sd: 0 });
  assertEquals(one, { measured: "69.1 vs 69.0", holds: "yes" });
  assertEquals(
    seedClaim({ mean: 70, sd: 1 }, { mean: 68, sd: 0.5 }).measured,
    "70.0 ± 1.0 vs 68.0 ± 0.5",
  );
});
