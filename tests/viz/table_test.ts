/** Markdown/CSV/HTML tables and their atomic files; figure JSON and layout helpers. */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  displayBundle,
  figureJson,
  mergeLayout,
  PAPER_WIDTH_PX,
  paperLayout,
  plotlyBundle,
  tableCsv,
  tableHtml,
  tableMarkdown,
  writeTable,
} from "../../lib/viz/mod.ts";

const rows = [
  { method: "CAM", maxBoxAcc: 63.714, params: 3, note: "baseline" },
  { method: "TeD-Loc | ours", maxBoxAcc: 86.25, params: 5, note: 'said "best", really' },
  { method: "missing", maxBoxAcc: NaN, params: null },
];

Deno.test("tableMarkdown: header, alignment, digits, escaping, missing values", () => {
  assertEquals(
    tableMarkdown(rows, ["method", { key: "maxBoxAcc", label: "MaxBoxAcc", digits: 1 }, "params"]),
    [
      "| method | MaxBoxAcc | params |",
      "| :--- | ---: | ---: |",
      "| CAM | 63.7 | 3 |",
      "| TeD-Loc \\| ours | 86.3 | 5 |",
      "| missing | – | – |",
      "",
    ].join("\n"),
  );
  const custom = tableMarkdown(rows.slice(0, 1), [{ key: "maxBoxAcc", format: (v) => `${v}%` }]);
  assert(custom.includes("| 63.714% |"), custom);
  assert(tableMarkdown(rows).startsWith("| method | maxBoxAcc | params | note |"));
});

Deno.test("tableCsv: full precision, RFC 4180 quoting, empty for missing", () => {
  assertEquals(
    tableCsv(rows),
    [
      "method,maxBoxAcc,params,note",
      "CAM,63.714,3,baseline",
      'TeD-Loc | ours,86.25,5,"said ""best"", really"',
      "missing,,,",
      "",
    ].join("\n"),
  );
});

Deno.test("tableHtml: escapes and captions", () => {
  const html = tableHtml([{ a: "<b>&" }], ["a"], { caption: "T1 <measured>" });
  assert(html.includes("<caption>T1 &lt;measured&gt;</caption>"), html);
  assert(html.includes("&lt;b&gt;&amp;"), html);
});

Deno.test("writeTable: .md and .csv written atomically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-viztest-" });
  try {
    const out = await writeTable(join(dir, "tables", "t1.md"), rows, ["method", "maxBoxAcc"]);
    assertEquals(out, { md: join(dir, "tables", "t1.md"), csv: join(dir, "tables", "t1.csv") });
    assertEquals(await Deno.readTextFile(out.md), tableMarkdown(rows, ["method", "maxBoxAcc"]));
    assertEquals(await Deno.readTextFile(out.csv), tableCsv(rows, ["method", "maxBoxAcc"]));
    assertEquals([...Deno.readDirSync(join(dir, "tables"))].length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plotlyBundle/figureJson: plain JSON, fallbacks, text line", () => {
  const fig = {
    data: [{ type: "scatter", x: new Float32Array([1, 2]), y: [NaN, 3], extra: undefined }],
    layout: { title: { text: "acc vs τ" } },
  };
  assertEquals(figureJson(fig), {
    data: [{ type: "scatter", x: [1, 2], y: [null, 3] }],
    layout: { title: { text: "acc vs τ" } },
  });
  const b = plotlyBundle(fig, { svg: "<svg/>", png: new Uint8Array([137, 80, 78, 71]) });
  assertEquals(Object.keys(b).sort(), [
    "application/vnd.plotly.v1+json",
    "image/png",
    "image/svg+xml",
    "text/plain",
  ]);
  assertEquals(b["image/png"], "iVBORw==");
  assertEquals(b["text/plain"], '<Plotly figure: 1 trace, "acc vs τ">');
  assertEquals(Object.keys(plotlyBundle({ data: [] })).sort(), [
    "application/vnd.plotly.v1+json",
    "text/plain",
  ]);
});

Deno.test("paperLayout/mergeLayout: sizes and deep overrides", () => {
  const one = paperLayout();
  assertEquals(one.width, PAPER_WIDTH_PX.one);
  const two = paperLayout({ columns: 2, height: 200 }, { xaxis: { title: { text: "τ" } } });
  assertEquals([two.width, two.height], [PAPER_WIDTH_PX.two, 200]);
  const x = two.xaxis as Record<string, unknown>;
  assertEquals((x.title as Record<string, unknown>).text, "τ");
  assertEquals(x.showline, true, "defaults survive a deep override");
  assertEquals(mergeLayout({ a: { b: 1, c: 2 }, l: [1] }, { a: { c: 3 }, l: [2] }), {
    a: { b: 1, c: 3 },
    l: [2],
  });
});

Deno.test("displayBundle outside Jupyter prints the text/plain part", async () => {
  const printed: unknown[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => printed.push(...args);
  try {
    await displayBundle({ "text/html": "<b>x</b>", "text/plain": "plain x" });
  } finally {
    console.log = original;
  }
  assertEquals(printed, ["plain x"]);
  await assertRejects(() => Promise.resolve(figureJson({} as never)), "data");
});
