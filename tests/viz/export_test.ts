/**
 * Static figure export through headless Chromium: the files are what they claim to be
 * (SVG parses, PNG decodes at width×scale, PDF has one page of the figure's size).
 */
import sharp from "sharp";
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../assert.ts";
import {
  browserLaunchMs,
  chromiumPath,
  closeBrowser,
  exportFigure,
  paperLayout,
  type PlotlyFigure,
  renderFigureSvg,
} from "../../lib/viz/mod.ts";

const HAVE_CHROMIUM = (() => {
  try {
    return Deno.statSync(chromiumPath()).isFile;
  } catch {
    return false;
  }
})();
const SKIP = HAVE_CHROMIUM ? "" : ` (skipped: no Chromium at ${chromiumPath()})`;

/**
 * Whether `xml` is well-formed enough to be a document: one root element, every start tag
 * closed in order, attributes quoted. (No DOMParser in Deno; sharp's SVG loader is the
 * second, independent parser below.)
 */
function xmlProblems(xml: string): string[] {
  const body = xml.replace(/<!--[\s\S]*?-->/g, "").replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, "")
    .replace(/<\?[\s\S]*?\?>/g, "").replace(/<!DOCTYPE[^>]*>/gi, "");
  const stack: string[] = [];
  const problems: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let last = 0;
  for (const m of body.matchAll(tag)) {
    const between = body.slice(last, m.index);
    if (between.includes("<")) problems.push(`unparsable markup near ${between.slice(0, 40)}`);
    last = m.index! + m[0].length;
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}>`);
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  if (body.slice(last).includes("<")) problems.push("unparsable markup at the end");
  if (stack.length) problems.push(`unclosed: ${stack.join(" > ")}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

/** Page objects of a PDF (`/Type /Page`, not `/Type /Pages`). */
function pdfPages(pdf: Uint8Array): number {
  const text = new TextDecoder("latin1").decode(pdf);
  return [...text.matchAll(/\/Type\s*\/Page(?![A-Za-z])/g)].length;
}

function figure(): PlotlyFigure {
  return {
    data: [
      { type: "scatter", mode: "lines+markers", name: "wasm", x: [64, 128, 256], y: [1, 3, 9] },
      { type: "bar", name: "cpu", x: [64, 128, 256], y: new Float32Array([2, 8, 30]) },
    ],
    layout: paperLayout({ columns: 1, title: "export test" }, {
      xaxis: { title: { text: "size" } },
    }),
  };
}

Deno.test({
  name: `exportFigure: SVG parses, PNG is width×scale, PDF has one vector page${SKIP}`,
  ignore: !HAVE_CHROMIUM,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "tedloc-viztest-" });
    try {
      const fig = figure();
      const width = 400, height = 260, scale = 2;
      let t0 = performance.now();
      const paths = await exportFigure(fig, join(dir, "sub", "fig"), { width, height, scale });
      const first = performance.now() - t0;
      const launch = await browserLaunchMs();
      t0 = performance.now();
      await exportFigure(fig, join(dir, "again.png"), { width, height, scale });
      const second = performance.now() - t0;
      console.log(
        `first export (svg+png+pdf) ${first.toFixed(0)} ms incl. launch ${launch.toFixed(0)} ms; ` +
          `second ${second.toFixed(0)} ms`,
      );
      assertEquals(await browserLaunchMs(), launch, "the browser is reused");
      assertEquals(Object.keys(paths).sort(), ["pdf", "png", "svg"]);

      await t.step("svg", async () => {
        assertEquals(paths.svg, join(dir, "sub", "fig.svg"));
        const svg = await Deno.readTextFile(paths.svg!);
        assert(svg.trimStart().startsWith("<svg"), svg.slice(0, 60));
        assertEquals(xmlProblems(svg), []);
        assert(svg.includes("export test"), "the title is in the SVG as text");
        const meta = await sharp(await Deno.readFile(paths.svg!)).metadata();
        assertEquals([meta.format, meta.width, meta.height], ["svg", width, height]);
      });

      await t.step("png", async () => {
        const meta = await sharp(await Deno.readFile(paths.png!)).metadata();
        assertEquals([meta.format, meta.width, meta.height], [
          "png",
          width * scale,
          height * scale,
        ]);
        const stats = await sharp(await Deno.readFile(paths.png!)).stats();
        assert(stats.channels[0].min < 100, "something dark is drawn (axes, text)");
      });

      await t.step("pdf", async () => {
        const pdf = await Deno.readFile(paths.pdf!);
        assertEquals(new TextDecoder().decode(pdf.subarray(0, 5)), "%PDF-");
        assertEquals(pdfPages(pdf), 1);
        const text = new TextDecoder("latin1").decode(pdf);
        const box = text.match(/\/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]/);
        assert(box, "a MediaBox");
        // CSS px are 1/96 in, PDF points 1/72 in; Chromium rounds page sizes slightly.
        assertAlmostEquals(Number(box[1]), width * 0.75, 1.5);
        assertAlmostEquals(Number(box[2]), height * 0.75, 1.5);
        assert(/\/Type\s*\/Font/.test(text), "text is embedded as fonts (vector), not pixels");
        assert(!/\/Subtype\s*\/Image/.test(text), "no raster image in a line/bar chart");
      });

      await t.step("atomic writes leave no temporary files", () => {
        const names = [...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name).sort();
        assertEquals(names, ["fig.pdf", "fig.png", "fig.svg"]);
      });

      await t.step("bad options are refused", async () => {
        await assertRejects(() => exportFigure(fig, join(dir, "x"), { width: 0 }), "width");
        await assertRejects(
          // deno-lint-ignore no-explicit-any
          () => exportFigure(fig, join(dir, "x"), { formats: ["jpg" as any] }),
          "unknown figure format",
        );
        await assertRejects(() => renderFigureSvg({ data: "x" } as never), "data");
      });

      await t.step("closeBrowser, then a render starts a new browser", async () => {
        await closeBrowser();
        assertEquals(await browserLaunchMs(), 0);
        const svg = await renderFigureSvg(fig, { width: 200, height: 150 });
        assert(svg.includes('width="200"'), svg.slice(0, 200));
        assert((await browserLaunchMs()) > 0);
      });
    } finally {
      await closeBrowser();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `a script that exports without closeBrowser still exits, leaving no Chromium${SKIP}`,
  ignore: !HAVE_CHROMIUM,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tedloc-viztest-" });
    try {
      const script = join(dir, "script.ts");
      const lib = new URL("../../lib/viz/mod.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import { renderFigureSvg } from "${lib}";
const svg = await renderFigureSvg({ data: [{ type: "bar", x: [1], y: [1] }] });
console.log("rendered", svg.length > 100);\n`,
      );
      const root = new URL("../..", import.meta.url).pathname;
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", join(root, "deno.json"), script],
        cwd: root,
        env: { TMPDIR: dir }, // the browser profile goes here: we can look for leftovers
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const res = await child.output();
      clearTimeout(timer);
      const out = new TextDecoder().decode(res.stdout);
      assertEquals(res.code, 0, out + new TextDecoder().decode(res.stderr));
      assert(out.includes("rendered true"), out);
      await new Promise((r) => setTimeout(r, 300)); // let the killed browser finish dying
      const leftovers = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
        n.startsWith("tedloc-chromium-")
      );
      assertEquals(leftovers, [], "the browser profile is removed on exit");
      const alive = [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).filter(
        (e) => {
          try {
            return Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(dir);
          } catch {
            return false;
          }
        },
      );
      assertEquals(alive.length, 0, "no Chromium process survives the script");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("stableSvg: Plotly's random figure and trace ids become stable; other content is kept", async () => {
  const { stableSvg } = await import("../../lib/viz/export.ts");
  const svg = (fig: string, trace: string, x: number) =>
    `<svg><defs id="defs-${fig}"><clipPath id="clip${fig}xyplot"><rect x="${x}"/></clipPath></defs>` +
    `<g clip-path="url(#clip${fig}xyplot)"><g class="trace scatter trace${trace}"/></g>` +
    `<defs id="topdefs-${fig}"/></svg>`;
  assertEquals(stableSvg(svg("6b2618", "679025", 44)), stableSvg(svg("e0dc1f", "a1b2c3", 44)));
  assert(stableSvg(svg("6b2618", "679025", 44)) !== stableSvg(svg("6b2618", "679025", 45)));
  assert(stableSvg(svg("6b2618", "679025", 44)).includes('id="clipu00000xyplot"'));
  assert(stableSvg(svg("6b2618", "679025", 44)).includes("trace scatter traceu00001"));
});
