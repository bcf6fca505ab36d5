/**
 * What notebooks show: committed notebooks render everywhere (a PNG beside every Plotly
 * figure), stay small and carry no machine paths; and the helpers behind that.
 */
import sharp from "sharp";
import { dirname } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import {
  cellSource,
  listNotebooks,
  methodRow,
  NOTEBOOK_SIZE_LIMIT,
  readIpynb,
} from "../../lib/notebook/mod.ts";
import {
  horizontalBarFigure,
  palettePng,
  projectRelative,
  screenImage,
  stablePdf,
} from "../../lib/viz/mod.ts";
import { PROJECT_ROOT, projectPath, sharedDataDir } from "../../lib/util/paths.ts";
import { LiveLine } from "../../lib/util/progress.ts";
import type { ExperimentRecord } from "../../lib/run/experiment.ts";

const NOTEBOOKS = listNotebooks(projectPath("notebooks"));
type Output = { output_type: string; data?: Record<string, unknown>; text?: unknown };

Deno.test("committed notebooks: every Plotly figure carries a PNG, no SVG-only figure", async () => {
  for (const path of NOTEBOOKS) {
    const nb = await readIpynb(path);
    (nb.cells ?? []).forEach((cell, i) => {
      for (const o of (cell.outputs ?? []) as Output[]) {
        const mimes = Object.keys(o.data ?? {});
        if (mimes.includes("application/vnd.plotly.v1+json") || mimes.includes("image/svg+xml")) {
          assert(mimes.includes("image/png"), `${path} cell ${i}: a figure without image/png`);
        }
      }
    });
  }
});

Deno.test("committed notebooks: under the size limit, no absolute paths of this machine", async () => {
  const parent = dirname(PROJECT_ROOT) + "/";
  for (const path of NOTEBOOKS) {
    const size = (await Deno.stat(path)).size;
    assert(size < NOTEBOOK_SIZE_LIMIT, `${path}: ${size} bytes ≥ ${NOTEBOOK_SIZE_LIMIT}`);
    const nb = await readIpynb(path);
    (nb.cells ?? []).forEach((cell, i) => {
      const text = JSON.stringify(cell.outputs ?? []);
      // committed by whoever ran them last: any folder beside the project counts too
      assert(!text.includes(PROJECT_ROOT), `${path} cell ${i}: ${PROJECT_ROOT} in an output`);
      assert(!text.includes(parent), `${path} cell ${i}: a path under ${parent} in an output`);
      assert(!/\bconsole\.log\(/.test(cellSource(cell)), `${path} cell ${i}: console.log`);
    });
  }
});

Deno.test("projectRelative: project and shared-data paths lose this machine's prefix", () => {
  assertEquals(projectRelative(`wrote ${PROJECT_ROOT}/figures/a.png`), "wrote figures/a.png");
  assertEquals(projectRelative(`root ${PROJECT_ROOT}`), "root .");
  const shared = sharedDataDir();
  if (shared) assertEquals(projectRelative(`${shared}/clip/x`), "<shared data>/clip/x");
  assertEquals(projectRelative("/etc/hosts"), "/etc/hosts");
});

Deno.test("stablePdf: creation and modification dates fixed, length kept", () => {
  const pdf =
    "%PDF-1.4\n/CreationDate (D:20261205011917+00'00')\n/ModDate (D:20261205011918+00'00')";
  const bytes = Uint8Array.from(pdf, (c) => c.charCodeAt(0));
  const out = new TextDecoder("latin1").decode(stablePdf(bytes));
  assertEquals(out.length, pdf.length);
  assert(out.includes("/CreationDate (D:20000101000000+00'00')"), out);
  assert(out.includes("/ModDate (D:20000101000000+00'00')"), out);
});

Deno.test("horizontalBarFigure: horizontal bars, first category on top, height grows", () => {
  const few = horizontalBarFigure(["a", "b"], [{ name: "s", values: [1, 2] }]);
  const many = horizontalBarFigure(
    Array.from({ length: 12 }, (_, i) => `category ${i}`),
    [{ name: "s", values: Array(12).fill(1) }, { name: "t", values: Array(12).fill(2) }],
  );
  assertEquals(few.data[0].orientation, "h");
  assertEquals(few.data[0].y, ["a", "b"]);
  assertEquals((few.layout!.yaxis as { autorange: string }).autorange, "reversed");
  assert(many.layout!.height! > few.layout!.height! + 200, "taller with more categories");
});

Deno.test("screenImage: shrunk to maxWidth; a photograph becomes JPEG, a plot stays PNG", async () => {
  const w = 1400, h = 600;
  // photograph-like: smooth shading plus fine grain (what PNG compresses badly)
  const noise = new Uint8Array(w * h * 3).map((_, i) => {
    const p = Math.floor(i / 3), x = p % w, y = Math.floor(p / w);
    const grain = ((i * 2654435761) >>> 28) - 8;
    return 128 + 90 * Math.sin(x / 37 + (i % 3)) * Math.cos(y / 23) + grain;
  });
  const photo = await sharp(noise, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  const shot = await screenImage(new Uint8Array(photo), { maxWidth: 700 });
  assertEquals(shot.width, 700);
  assertEquals(shot.mime, "image/jpeg");
  assertEquals((await sharp(shot.bytes).metadata()).width, 700);
  const flat = await sharp({ create: { width: w, height: h, channels: 3, background: "#fff" } })
    .png().toBuffer();
  assertEquals((await screenImage(new Uint8Array(flat))).mime, "image/png");
});

Deno.test("palettePng: a plot-like PNG gets smaller and keeps its size in pixels", async () => {
  const w = 300, h = 200;
  const px = new Uint8Array(w * h * 3).map((_, i) => ((i / 3) % w) < 150 ? 30 : 220);
  const png = new Uint8Array(
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png({ compressionLevel: 0 })
      .toBuffer(),
  );
  const small = await palettePng(png);
  assert(small.length < png.length, `${small.length} < ${png.length}`);
  const meta = await sharp(small).metadata();
  assertEquals([meta.width, meta.height], [w, h]);
});

Deno.test("methodRow: the row of a method, or an error naming the rows there are", () => {
  const record = {
    rows: [{ method: "tedloc", metrics: { maxBoxAcc: 1 } }],
  } as unknown as ExperimentRecord;
  assertEquals(methodRow(record, "tedloc").method, "tedloc");
  let message = "";
  try {
    methodRow(record, "cam");
  } catch (err) {
    message = (err as Error).message;
  }
  assert(message.includes("no 'cam' row") && message.includes("rows: tedloc"), message);
});

Deno.test("LiveLine outside Jupyter: inactive, and done() resolves", async () => {
  const live = new LiveLine("x");
  assertEquals(live.active, false);
  live.set("y");
  await live.done("z");
});
