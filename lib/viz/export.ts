/**
 * Static figure rendering (SVG, PNG, vector PDF) in headless Chromium with plotly.js
 * loaded from node_modules (no CDN).
 *
 * One browser per process, launched on first use and reused (launch + plotly.js parse is
 * ~2 s; later figures take tens of ms). It talks to this process over a pipe and is
 * un-referenced while idle, so a script that never calls {@link closeBrowser} still exits;
 * on exit the browser is killed and its temporary profile removed (Chromium also exits by
 * itself when its pipe closes, e.g. if this process is killed).
 *
 * @module
 */
import puppeteer from "puppeteer-core";
import type { Browser, Page } from "puppeteer-core";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, extname } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { figureJson, type PlotlyFigure } from "./figure.ts";

/** Chromium flags: headless, no sandbox (containers), and nothing that reaches the network. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
];

/** The Chromium binary: `$TEDLOC_CHROMIUM`, else `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return Deno.env.get("TEDLOC_CHROMIUM") ?? "/usr/bin/chromium";
}

function plotlyJsPath(): string {
  return fileURLToPath(
    new URL("../../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url),
  );
}

/** A node ChildProcess, as far as we use it (ref/unref of it and its stdio pipes). */
interface RefCounted {
  ref?(): void;
  unref?(): void;
}
interface ChildLike extends RefCounted {
  pid?: number;
  stdio?: (RefCounted | null)[];
  kill(signal?: string): boolean;
}

interface Session {
  browser: Browser;
  page: Page;
  userDataDir: string;
  child: ChildLike | null;
  launchMs: number;
}

let session: Promise<Session> | null = null;
/** The launched session (set once Chromium runs, before plotly.js has loaded). */
let current: Session | null = null;
let busy = 0;
let queue: Promise<unknown> = Promise.resolve();
let unloadHooked = false;

function setReferenced(s: Session, on: boolean): void {
  const all: (RefCounted | null | undefined)[] = [s.child, ...(s.child?.stdio ?? [])];
  for (const h of all) (on ? h?.ref : h?.unref)?.call(h);
}

function killNow(s: Session): void {
  try {
    s.child?.kill("SIGKILL");
  } catch { /* already gone */ }
  // Runs in an `unload` handler, so no awaiting: retry briefly while the dying browser may
  // still create files in its profile.
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      Deno.removeSync(s.userDataDir, { recursive: true });
      return;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      const until = performance.now() + 10;
      while (performance.now() < until) { /* spin: no sleep in unload */ }
    }
  }
}

/**
 * Remove browser profiles left by processes that no longer exist. A process killed hard
 * (a notebook kernel shut down by Jupyter, say) cannot remove its profile; its Chromium
 * exits by itself when the pipe closes, so only the folder remains.
 */
function sweepStaleProfiles(tmp: string): void {
  if (Deno.build.os !== "linux") return; // liveness check below reads /proc
  try {
    for (const entry of Deno.readDirSync(tmp)) {
      const m = entry.name.match(/^tedloc-chromium-(\d+)-/);
      if (!m || Number(m[1]) === Deno.pid) continue;
      try {
        Deno.statSync(`/proc/${m[1]}`);
      } catch {
        Deno.removeSync(`${tmp}/${entry.name}`, { recursive: true });
      }
    }
  } catch { /* best effort: another process may be sweeping too */ }
}

async function launch(): Promise<Session> {
  const exe = chromiumPath();
  try {
    Deno.statSync(exe);
  } catch {
    throw new Error(
      `Chromium not found at ${exe}: run 'bash scripts/setup.sh' (apt-get install -y chromium) ` +
        `or set TEDLOC_CHROMIUM`,
    );
  }
  const plotly = plotlyJsPath();
  try {
    Deno.statSync(plotly);
  } catch {
    throw new Error(`plotly.js not found at ${plotly}: run 'bash scripts/setup.sh' (npm ci)`);
  }
  const t0 = performance.now();
  const userDataDir = await Deno.makeTempDir({ prefix: `tedloc-chromium-${Deno.pid}-` });
  sweepStaleProfiles(dirname(userDataDir));
  const pagePath = `${userDataDir}/figure.html`;
  await Deno.writeTextFile(
    pagePath,
    `<!doctype html><html><head><meta charset="utf-8">
<style>html,body{margin:0;padding:0;overflow:hidden;background:#fff}</style>
<script src="${pathToFileURL(plotly).href}"></script></head>
<body><div id="fig"></div></body></html>`,
  );
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: exe,
      headless: true,
      pipe: true,
      userDataDir,
      args: CHROMIUM_ARGS,
    });
  } catch (err) {
    await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    throw new Error(`cannot start Chromium (${exe}): ${(err as Error).message}`);
  }
  const child = browser.process() as unknown as ChildLike | null;
  const s: Session = { browser, page: null as unknown as Page, userDataDir, child, launchMs: 0 };
  if (!unloadHooked) {
    unloadHooked = true;
    globalThis.addEventListener("unload", () => {
      if (current) killNow(current);
    });
  }
  current = s;
  browser.on("disconnected", () => {
    if (current === s) {
      current = null;
      session = null;
    }
  });
  s.page = await browser.newPage();
  await s.page.goto(pathToFileURL(pagePath).href, { waitUntil: "load" });
  const ok = await s.page.evaluate(() =>
    typeof (globalThis as unknown as { Plotly?: unknown }).Plotly
  );
  if (ok !== "object") throw new Error(`plotly.js did not load from ${plotly}`);
  s.launchMs = performance.now() - t0;
  return s;
}

/**
 * Run `fn` with the shared page: one operation at a time; the browser is referenced (keeps
 * the process alive) only while some operation is running.
 */
function withPage<T>(fn: (page: Page) => Promise<T>): Promise<T> {
  const run = async (): Promise<T> => {
    if (session === null) session = launch();
    let s: Session;
    try {
      s = await session;
    } catch (err) {
      session = null;
      throw err;
    }
    busy++;
    setReferenced(s, true);
    try {
      return await fn(s.page);
    } finally {
      busy--;
      if (busy === 0 && current === s) setReferenced(s, false);
    }
  };
  const result = queue.then(run, run);
  queue = result.catch(() => {});
  return result;
}

/**
 * Close the shared browser (if one was started) and remove its temporary profile.
 * Safe to call any number of times; the next render starts a new browser.
 */
export async function closeBrowser(): Promise<void> {
  const pending = session;
  session = null;
  if (pending === null) return;
  let s: Session;
  try {
    s = await pending;
  } catch {
    return;
  }
  if (current === s) current = null;
  setReferenced(s, true);
  try {
    await s.browser.close();
  } catch {
    killNow(s);
  }
  await Deno.remove(s.userDataDir, { recursive: true }).catch(() => {});
}

/** Milliseconds the current browser took to launch and load plotly.js (0 when none). */
export async function browserLaunchMs(): Promise<number> {
  if (session === null) return 0;
  return (await session).launchMs;
}

/** Static output formats. */
export type FigureFormat = "svg" | "png" | "pdf";

/** Size and resolution of a static rendering. */
export interface RenderOptions {
  /** CSS px (default: layout.width, else 700). */
  width?: number;
  /** CSS px (default: layout.height, else 450). */
  height?: number;
  /** PNG pixel density: the PNG is width×scale by height×scale (default 1). */
  scale?: number;
}

function figureSize(fig: PlotlyFigure, opts: RenderOptions): { width: number; height: number } {
  const width = opts.width ?? fig.layout?.width ?? 700;
  const height = opts.height ?? fig.layout?.height ?? 450;
  for (const [name, v] of [["width", width], ["height", height]] as const) {
    if (!Number.isFinite(v) || v < 10 || v > 10000) {
      throw new RangeError(`figure ${name} must be 10..10000 px, got ${v}`);
    }
  }
  return { width: Math.round(width), height: Math.round(height) };
}

/** The page's element holding the figure, typed without the DOM lib (which would leak
 * into every module that imports lib/mod.ts). */
type FigureDiv = { style: Record<string, string> };
/** What the page callbacks use of the browser's globals. */
type PageGlobals = {
  document: { getElementById(id: string): FigureDiv | null };
  Plotly: {
    toImage(fig: unknown, opts: Record<string, unknown>): Promise<string>;
    newPlot(div: FigureDiv, data: unknown, layout: unknown, config: unknown): Promise<unknown>;
    purge(div: FigureDiv): void;
  };
};

/**
 * Render a figure to SVG text (Plotly.toImage).
 *
 * @example
 * ```ts
 * const svg = await renderFigureSvg(fig, { width: 400, height: 300 });
 * ```
 */
export async function renderFigureSvg(
  fig: PlotlyFigure,
  opts: RenderOptions = {},
): Promise<string> {
  const json = figureJson(fig);
  const { width, height } = figureSize(json, opts);
  const url = await withPage((page) =>
    page.evaluate(
      (f, w, h) =>
        (globalThis as unknown as PageGlobals).Plotly.toImage(f, {
          format: "svg",
          width: w,
          height: h,
        }),
      json,
      width,
      height,
    )
  );
  const comma = url.indexOf(",");
  if (!url.startsWith("data:image/svg+xml") || comma < 0) {
    throw new Error(`Plotly.toImage returned no SVG (${url.slice(0, 40)}…)`);
  }
  const body = url.slice(comma + 1);
  return url.slice(0, comma).endsWith(";base64") ? atob(body) : decodeURIComponent(body);
}

/**
 * Plotly's SVG with its random ids made stable (the figure's uid in `defs-`/`topdefs-`/`clip…`
 * ids and each trace's uid in its class), numbered in order of appearance, so that exporting an
 * unchanged figure again writes the same bytes.
 */
export function stableSvg(svg: string): string {
  const names = new Map<string, string>();
  const stable = (uid: string) => {
    if (!names.has(uid)) names.set(uid, `u${names.size.toString().padStart(5, "0")}`);
    return names.get(uid)!;
  };
  return svg.replace(
    /\b(defs-|topdefs-|clip|trace)([0-9a-f]{6})(?=[\s"x)y]|plot|$)/g,
    (_m, prefix: string, uid: string) => prefix + stable(uid),
  );
}

/**
 * Render a figure to PNG bytes, `width×scale` by `height×scale` pixels.
 *
 * @example
 * ```ts
 * const png = await renderFigurePng(fig, { scale: 3 }); // ~300 dpi at paper size
 * ```
 */
export async function renderFigurePng(
  fig: PlotlyFigure,
  opts: RenderOptions = {},
): Promise<Uint8Array> {
  const json = figureJson(fig);
  const { width, height } = figureSize(json, opts);
  const scale = opts.scale ?? 1;
  if (!(scale > 0 && scale <= 10)) throw new RangeError(`scale must be in (0, 10], got ${scale}`);
  const url = await withPage((page) =>
    page.evaluate(
      (f, w, h, sc) =>
        (globalThis as unknown as PageGlobals).Plotly.toImage(f, {
          format: "png",
          width: w,
          height: h,
          scale: sc,
        }),
      json,
      width,
      height,
      scale,
    )
  );
  const prefix = "data:image/png;base64,";
  if (!url.startsWith(prefix)) throw new Error(`Plotly.toImage returned no PNG`);
  return Uint8Array.from(atob(url.slice(prefix.length)), (c) => c.charCodeAt(0));
}

/**
 * Render a figure to a one-page vector PDF sized to the figure (CSS px → 1/96 in).
 *
 * @example
 * ```ts
 * await Deno.writeFile("fig.pdf", await renderFigurePdf(fig));
 * ```
 */
export async function renderFigurePdf(
  fig: PlotlyFigure,
  opts: RenderOptions = {},
): Promise<Uint8Array> {
  const json = figureJson(fig);
  const { width, height } = figureSize(json, opts);
  return await withPage(async (page) => {
    await page.evaluate(
      async (f, w, h) => {
        const { document, Plotly } = globalThis as unknown as PageGlobals;
        const div = document.getElementById("fig")!;
        div.style.width = `${w}px`;
        div.style.height = `${h}px`;
        Plotly.purge(div);
        await Plotly.newPlot(div, f.data, { ...f.layout, width: w, height: h }, {
          staticPlot: true,
          displayModeBar: false,
        });
      },
      json,
      width,
      height,
    );
    try {
      const pdf = await page.pdf({
        width: `${width}px`,
        height: `${height}px`,
        printBackground: true,
        margin: { top: 0, right: 0, bottom: 0, left: 0 },
        pageRanges: "1",
      });
      return new Uint8Array(pdf);
    } finally {
      await page.evaluate(() => {
        const { document, Plotly } = globalThis as unknown as PageGlobals;
        Plotly.purge(document.getElementById("fig")!);
      });
    }
  });
}

/**
 * The PDF with its creation and modification dates set to a fixed one (same length, so the
 * cross-reference offsets stay valid): Chromium's PDFs differ only there between renders,
 * and re-running a notebook should not rewrite figures whose content did not change.
 */
export function stablePdf(pdf: Uint8Array): Uint8Array {
  const text = new TextDecoder("latin1").decode(pdf);
  const fixed = text.replace(
    /\/(CreationDate|ModDate) \(D:\d{14}/g,
    (_m, key) => `/${key} (D:20000101000000`,
  );
  if (fixed === text) return pdf;
  return Uint8Array.from(fixed, (c) => c.charCodeAt(0));
}

async function sameBytes(path: string, bytes: Uint8Array): Promise<boolean> {
  try {
    const old = await Deno.readFile(path);
    return old.length === bytes.length && old.every((b, i) => b === bytes[i]);
  } catch {
    return false;
  }
}

/** Options of {@link exportFigure}. */
export interface ExportOptions extends RenderOptions {
  /** Which files to write (default svg, png, pdf). */
  formats?: FigureFormat[];
}

/**
 * Write a figure as `basePath.svg`, `.png` and `.pdf` (atomically; folders created) and
 * return the paths by format. PNG uses `scale` (default 2); SVG and PDF are vector. A file
 * whose bytes would not change is left alone (PDF dates are fixed, see {@link stablePdf}),
 * so re-running a notebook does not churn unchanged binaries in git.
 *
 * @example
 * ```ts
 * await exportFigure(fig, "../figures/00_quickstart", { scale: 3 });
 * // { svg: "../figures/00_quickstart.svg", png: "….png", pdf: "….pdf" }
 * ```
 */
export async function exportFigure(
  fig: PlotlyFigure,
  basePath: string,
  opts: ExportOptions = {},
): Promise<Partial<Record<FigureFormat, string>>> {
  const formats = opts.formats ?? ["svg", "png", "pdf"];
  for (const f of formats) {
    if (!["svg", "png", "pdf"].includes(f)) throw new RangeError(`unknown figure format '${f}'`);
  }
  const ext = extname(basePath).toLowerCase();
  const base = [".svg", ".png", ".pdf"].includes(ext) ? basePath.slice(0, -ext.length) : basePath;
  const written: Partial<Record<FigureFormat, string>> = {};
  for (const format of formats) {
    const path = `${base}.${format}`;
    const bytes = format === "svg"
      ? new TextEncoder().encode(stableSvg(await renderFigureSvg(fig, opts)))
      : format === "png"
      ? await renderFigurePng(fig, { ...opts, scale: opts.scale ?? 2 })
      : stablePdf(await renderFigurePdf(fig, opts));
    if (!(await sameBytes(path, bytes))) await writeFileAtomic(path, bytes);
    written[format] = path;
  }
  return written;
}
