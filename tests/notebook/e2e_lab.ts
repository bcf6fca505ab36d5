/**
 * The browser end-to-end check behind `bash scripts/e2e.sh` (which starts JupyterLab and
 * passes its URL): headless Chromium, driven with puppeteer-core through JupyterLab's own
 * menus, on each notebook given:
 *
 * 1. opened as committed (untrusted): every figure output shows as an image (a PNG, or an
 *    interactive plot), none as the `<Plotly figure …>` text;
 * 2. Edit → Clear Outputs of All Cells, Run → Run All Cells, wait for the kernel;
 * 3. no error output, every code cell has output, every Plotly figure is a
 *    `.js-plotly-plot` that answers a hover, and every output sits under its own cell
 *    (each cell's outputs are checked against markers from its own source).
 *
 * Screenshots go to the folder given. Prints one JSON line per notebook and exits 1 if any
 * check failed. Not a `deno test` file: it needs a running JupyterLab.
 *
 *   deno run -A tests/notebook/e2e_lab.ts URL TOKEN SHOTS_DIR NOTEBOOK…
 *
 * @module
 */
import puppeteer from "puppeteer-core";
import type { Page } from "puppeteer-core";
import { join } from "node:path";
import { chromiumPath } from "../../lib/viz/export.ts";

/** What a cell looks like in the notebook model (`cell.toJSON()`). */
interface CellJson {
  cell_type: string;
  source: string | string[];
  execution_count?: number | null;
  outputs?: { output_type: string; data?: Record<string, unknown>; text?: string | string[] }[];
}

const [url, token, shots, ...notebooks] = Deno.args;
if (!url || !token || !shots || notebooks.length === 0) {
  console.error("usage: e2e_lab.ts URL TOKEN SHOTS_DIR NOTEBOOK…");
  Deno.exit(2);
}
await Deno.mkdir(shots, { recursive: true });

async function clickMenu(page: Page, menu: string, item: string): Promise<void> {
  const bar = await page.waitForSelector(
    `xpath/.//div[contains(@class,"lm-MenuBar-itemLabel") and normalize-space()="${menu}"]`,
  );
  await bar!.click();
  const entry = await page.waitForSelector(
    `xpath/.//div[contains(@class,"lm-Menu-itemLabel") and normalize-space()="${item}"]`,
    { visible: true },
  );
  await entry!.click();
}

/** The current notebook's cells as JSON, read from JupyterLab's model. */
function cells(page: Page): Promise<CellJson[]> {
  return page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const app = (globalThis as any).jupyterapp;
    const model = app.shell.currentWidget.content.model;
    const out = [];
    for (let i = 0; i < model.cells.length; i++) out.push(model.cells.get(i).toJSON());
    return out;
  });
}

function text(v: unknown): string {
  return Array.isArray(v) ? v.join("") : typeof v === "string" ? v : JSON.stringify(v ?? "");
}

/** Strings a cell's own outputs must contain: the first string literal of each
 * `print(…)`/`displayTable(…caption…)` call is too brittle, so use what every cell shows:
 * a figure for showFigure cells, a table for displayTable cells, text for print cells. */
function expectedKinds(source: string): string[] {
  const kinds: string[] = [];
  if (/\bshowFigure\(/.test(source)) kinds.push("application/vnd.plotly.v1+json");
  if (/\bdisplay(Footnoted)?Table\(/.test(source)) kinds.push("text/html");
  if (/\bshowImage\(/.test(source)) kinds.push("image/");
  return kinds;
}

/** Open a notebook as committed; its figures must show as images (1). Returns the tab scope. */
async function openCommitted(page: Page, name: string, problems: string[]) {
  await page.goto(`${url}/lab/tree/notebooks/${name}?token=${token}`, {
    waitUntil: "networkidle2",
    timeout: 120_000,
  });
  await page.waitForSelector(".jp-Notebook .jp-Cell", { timeout: 120_000 });
  await page.waitForFunction(
    // deno-lint-ignore no-explicit-any
    () => (globalThis as any).jupyterapp?.shell?.currentWidget?.content?.model,
    { timeout: 60_000 },
  );
  await new Promise((r) => setTimeout(r, 3000)); // renderers of the committed outputs
  // JupyterLab restores earlier tabs (hidden, still in the page): look inside this one only
  const scopeId = await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any
    (globalThis as any).jupyterapp.shell.currentWidget.node.id as string
  );
  const scope = `[id="${scopeId}"]`;
  // figures and pictures: Plotly outputs and images (04's grids are JPEG)
  const figures =
    (await cells(page)).flatMap((c) =>
      (c.outputs ?? []).filter((o) =>
        Object.keys(o.data ?? {}).some((m) =>
          m === "application/vnd.plotly.v1+json" || m.startsWith("image/")
        )
      )
    ).length;
  const shown = await page.evaluate((scope: string) => {
    const d = (globalThis as unknown as {
      document: { querySelectorAll(s: string): { length: number; textContent?: string }[] };
    }).document;
    const outs = [...d.querySelectorAll(`${scope} .jp-OutputArea-output`)] as {
      textContent?: string;
    }[];
    return {
      images: d.querySelectorAll(`${scope} .jp-OutputArea-output img`).length,
      plots: d.querySelectorAll(`${scope} .jp-OutputArea-output.js-plotly-plot`).length,
      plotlyText: outs.filter((o) => (o.textContent ?? "").includes("<Plotly figure")).length,
    };
  }, scope);
  const firstFigure = await page.$(
    `${scope} .jp-RenderedPlotly, ${scope} .jp-RenderedImage, ${scope} .jp-OutputArea-output img`,
  );
  await firstFigure?.scrollIntoView();
  await page.screenshot({ path: join(shots, `${name}-1-committed.png`), fullPage: false });
  if (shown.plotlyText > 0) problems.push(`untrusted: ${shown.plotlyText} figure(s) as text`);
  if (shown.images + shown.plots < figures) {
    problems.push(`untrusted: ${figures} figures, ${shown.images} images + ${shown.plots} plots`);
  }
  return { scope, figures, images: shown.images };
}

/** Edit → Clear Outputs, Run → Run All Cells (2); wait until every cell ran. */
async function runAll(page: Page, name: string): Promise<void> {
  await clickMenu(page, "Edit", "Clear Outputs of All Cells");
  await clickMenu(page, "Run", "Run All Cells");
  // a look at a long cell while it runs: the live progress line (if one is still running)
  await new Promise((r) => setTimeout(r, 6000));
  const running = await page.$(
    `xpath/.//div[contains(@class,"jp-InputPrompt") and normalize-space()="[*]:"]` +
      `/ancestor::div[contains(@class,"jp-CodeCell")][1]`,
  );
  if (running) {
    await running.evaluate((e) =>
      (e as unknown as { scrollIntoView(o: unknown): void }).scrollIntoView({ block: "end" })
    );
    await page.screenshot({ path: join(shots, `${name}-2-running.png`) });
  }
  await page.waitForFunction(
    () => {
      // deno-lint-ignore no-explicit-any
      const app = (globalThis as any).jupyterapp;
      const nb = app.shell.currentWidget;
      const model = nb.content.model;
      for (let i = 0; i < model.cells.length; i++) {
        const c = model.cells.get(i);
        if (c.type === "code" && String(c.sharedModel.source).trim() && !c.executionCount) {
          return false;
        }
      }
      return nb.sessionContext.session?.kernel?.status === "idle";
    },
    { timeout: 1_500_000, polling: 1000 },
  );
  await new Promise((r) => setTimeout(r, 2000)); // late outputs and plot rendering
}

/** (3) Every code cell has output, no error, and no output of a kind the cell never makes. */
function checkOutputs(after: CellJson[], problems: string[]): void {
  after.forEach((c, i) => {
    if (c.cell_type !== "code" || !text(c.source).trim()) return;
    const outs = c.outputs ?? [];
    if (outs.length === 0) problems.push(`cell ${i}: no output`);
    for (const o of outs) {
      if (o.output_type === "error") problems.push(`cell ${i}: error output`);
    }
    const mimes = outs.flatMap((o) => Object.keys(o.data ?? {}));
    const mine = expectedKinds(text(c.source));
    for (const kind of mine) {
      if (!mimes.some((m) => m.startsWith(kind))) problems.push(`cell ${i}: no ${kind} output`);
    }
    // an output belongs to another cell when it is a kind this cell never makes
    const printsText = /\b(print|console\.\w+|runQuietly)\(/.test(text(c.source));
    if (!printsText && outs.some((o) => o.output_type === "stream")) {
      problems.push(`cell ${i}: a text output though it prints nothing (another cell's?)`);
    }
    for (const m of mimes) {
      if (
        ["application/vnd.plotly.v1+json", "text/html"].includes(m) &&
        !mine.some((k) => m.startsWith(k))
      ) problems.push(`cell ${i}: a ${m} output it does not make (another cell's?)`);
    }
  });
}

/** (3) Each Plotly figure becomes an interactive plot that answers a hover. */
async function checkPlots(page: Page, scope: string, figures: number, problems: string[]) {
  // Plotly's JupyterLab renderer (jupyterlab-plotly 7) shows a bundle's PNG first and swaps
  // in the interactive plot when the mouse enters it (plotly.js loads then): do what a user does.
  for (const out of await page.$$(`${scope} .jp-RenderedPlotly`)) {
    await out.scrollIntoView();
    const img = await out.$("img.plot-img");
    if (img) await img.hover().catch(() => {});
    // Plotly.react makes the output node itself the `.js-plotly-plot`
    await page.waitForFunction(
      (el) =>
        (el as unknown as { classList: { contains(c: string): boolean } }).classList
          .contains("js-plotly-plot"),
      { timeout: 30_000 },
      out,
    ).catch(() => {});
  }
  const plots = await page.$$(
    `${scope} .jp-OutputArea-output.js-plotly-plot, ${scope} .jp-OutputArea-output .js-plotly-plot`,
  );
  if (plots.length < figures) {
    problems.push(`${figures} Plotly figures, ${plots.length} interactive plots`);
  }
  let hovered = 0;
  for (const plot of plots) {
    await plot.scrollIntoView();
    // hover a data point (a marker or bar), else sweep the plot area (lines, heat maps)
    const spots: [number, number][] = [];
    for (const t of (await plot.$$(".point")).slice(0, 3)) {
      const b = await t.boundingBox();
      if (b) spots.push([b.x + b.width / 2, b.y + b.height / 2]);
    }
    const area = await (await plot.$(".nsewdrag"))?.boundingBox();
    if (area) {
      for (let fy = 0.1; fy < 1; fy += 0.2) {
        for (let fx = 0.1; fx < 1; fx += 0.2) {
          spots.push([area.x + area.width * fx, area.y + area.height * fy]);
        }
      }
    }
    for (const [x, y] of spots) {
      await page.mouse.move(x, y);
      await page.mouse.move(x + 1, y);
      await new Promise((r) => setTimeout(r, 150));
      if ((await plot.$$(".hoverlayer .hovertext")).length > 0) {
        hovered++;
        break;
      }
    }
  }
  if (hovered < plots.length) problems.push(`${plots.length - hovered} plot(s) showed no hover`);
  return { plots, hovered };
}

async function checkNotebook(page: Page, name: string): Promise<Record<string, unknown>> {
  const problems: string[] = [];
  const t0 = performance.now();
  const { scope, figures, images } = await openCommitted(page, name, problems);
  const t1 = performance.now();
  await runAll(page, name);
  const t2 = performance.now();
  const after = await cells(page);
  checkOutputs(after, problems);
  const figuresAfter =
    after.flatMap((c) =>
      (c.outputs ?? []).filter((o) => o.data && "application/vnd.plotly.v1+json" in o.data)
    ).length;
  const { plots, hovered } = await checkPlots(page, scope, figuresAfter, problems);
  const figureOutput = plots[0] ?? await page.$(`${scope} .jp-OutputArea-output img`);
  await figureOutput?.scrollIntoView();
  await page.screenshot({ path: join(shots, `${name}-3-after-run-all.png`) });
  const rendered = await page.$$eval(
    `${scope} .jp-OutputArea-output`,
    (els) => els.map((e) => (e as unknown as { dataset: { mimeType?: string } }).dataset.mimeType),
  );
  const secs = (a: number, b: number) => Number(((b - a) / 1000).toFixed(1));
  return {
    notebook: name,
    pass: problems.length === 0,
    openSeconds: secs(t0, t1),
    runAllSeconds: secs(t1, t2),
    checkSeconds: secs(t2, performance.now()),
    committedFigures: figures,
    untrustedImages: images,
    figures: figuresAfter,
    interactivePlots: plots.length,
    hovered,
    renderedMimeTypes: [...new Set(rendered)],
    problems,
  };
}

const browser = await puppeteer.launch({
  executablePath: chromiumPath(),
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"],
  defaultViewport: { width: 1400, height: 1000 },
});
let failed = false;
try {
  for (const name of notebooks) {
    const page = await browser.newPage();
    if (Deno.env.get("TEDLOC_E2E_DEBUG")) {
      page.on("console", (m) => console.error(`[browser ${m.type()}] ${m.text().slice(0, 300)}`));
      page.on("pageerror", (e) => console.error(`[page error] ${String(e).slice(0, 300)}`));
    }
    try {
      const r = await checkNotebook(page, name);
      console.log(JSON.stringify(r));
      if (!r.pass) failed = true;
    } catch (err) {
      await page.screenshot({ path: join(shots, `${name}-error.png`) }).catch(() => {});
      console.log(JSON.stringify({ notebook: name, pass: false, error: String(err) }));
      failed = true;
    } finally {
      await page.close();
    }
  }
} finally {
  await browser.close();
}
Deno.exit(failed ? 1 : 0);
