/**
 * A progress bar for long work: a redrawn bar with rate and ETA on a terminal, one live
 * line (an updated display, like tqdm.notebook) in a Jupyter cell, plain periodic lines
 * elsewhere (CI logs).
 *
 * @module
 */
import { throwIfInterrupted } from "./interrupt.ts";

/** `Deno.jupyter.broadcast`, or null outside the Deno Jupyter kernel. */
export type JupyterBroadcast = (
  msgType: string,
  content: Record<string, unknown>,
  extra?: { metadata?: Record<string, unknown> },
) => Promise<void> | void;

/**
 * The kernel's IOPub broadcast, or `null` outside `deno jupyter`. Prefer
 * {@link jupyterSend}, which waits until the message has likely left the kernel.
 */
export function jupyterBroadcast(): JupyterBroadcast | null {
  try {
    // Deno.jupyter is a getter that throws outside `deno jupyter`.
    const b = Deno.jupyter.broadcast;
    return typeof b === "function" ? b : null;
  } catch {
    return null;
  }
}

/** Milliseconds {@link jupyterSend} waits after any message, and per megabyte of it. */
export const JUPYTER_SETTLE = { ms: 15, msPerMb: 60 };

function payloadBytes(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (value && typeof value === "object") {
    let n = 0;
    for (const v of Object.values(value)) n += payloadBytes(v);
    return n;
  }
  return 8;
}

/**
 * Send one IOPub message from the running cell and wait until the kernel has likely sent
 * it; `false` outside Jupyter. Why the wait: Deno's kernel (2.9) queues a broadcast and
 * returns at once, and stamps the message with the header of the cell that runs when the
 * queue gets to it — `console.log` lines go the same way. In a front end's Run All the next
 * cell starts as soon as this one ends, so a cell that ends right after a large display (or
 * on a busy machine) has its last outputs filed under the next cell. Waiting
 * {@link JUPYTER_SETTLE} (15 ms + 60 ms per MB of everything queued; the kernel took ~17–50
 * ms/MB on 2 busy cores) before
 * returning keeps the cell running until its outputs are out (bench/notebook_race.ts --run-all).
 */
export async function jupyterSend(
  msgType: string,
  content: Record<string, unknown>,
): Promise<boolean> {
  const broadcast = jupyterBroadcast();
  if (!broadcast) return false;
  await broadcast(msgType, content);
  // The kernel's queue drains in order: this message is out once everything sent before it is.
  const now = performance.now();
  drainAt = Math.max(drainAt, now) + JUPYTER_SETTLE.msPerMb * payloadBytes(content) / 1e6;
  const wait = drainAt + JUPYTER_SETTLE.ms - now;
  await new Promise((r) => setTimeout(r, wait));
  return true;
}

/** When the kernel's IOPub queue should be empty of what {@link jupyterSend} queued. */
let drainAt = 0;

let liveLines = 0;

/**
 * One line of text shown in a Jupyter cell and rewritten in place (a `display_data` with a
 * `display_id`, then `update_display_data`), so long work shows its state without filling
 * the cell. Updates are throttled (default 0.5 s) and sent in order; {@link LiveLine.done}
 * writes the final text. Outside Jupyter it does nothing: use {@link Progress} there.
 *
 * @example
 * ```ts
 * const live = new LiveLine("training…");
 * for (const line of log) live.set(line);
 * await live.done("trained in 12.3 s");
 * ```
 */
export class LiveLine {
  /** The display id shared by the line's display and its updates. */
  readonly id: string;
  private readonly broadcast: JupyterBroadcast | null;
  private readonly every: number;
  private chain: Promise<void>;
  private last = -Infinity;
  private pending: string | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private finished = false;

  constructor(text: string, opts: { every?: number } = {}) {
    this.broadcast = jupyterBroadcast();
    this.every = (opts.every ?? 0.5) * 1000;
    this.id = `tedloc-live-${Deno.pid}-${++liveLines}-${Math.floor(performance.now())}`;
    // Sent now, while this cell runs: the kernel stamps the cell's header at the call.
    this.chain = this.send("display_data", text);
    this.last = performance.now();
  }

  /** Whether the line is shown (inside a Jupyter kernel). */
  get active(): boolean {
    return this.broadcast !== null;
  }

  private send(type: string, text: string): Promise<void> {
    if (!this.broadcast) return Promise.resolve();
    return jupyterSend(type, {
      data: { "text/plain": text },
      metadata: {},
      transient: { display_id: this.id },
    }).then(() => {}, () => {});
  }

  /** Show `text` (at most one update per interval; the latest text wins). */
  set(text: string): void {
    if (this.finished || !this.broadcast) return;
    this.pending = text;
    const wait = this.last + this.every - performance.now();
    if (wait <= 0) this.flush();
    else if (this.timer === undefined) {
      const timer = setTimeout(() => this.flush(), wait);
      Deno.unrefTimer(timer);
      this.timer = timer;
    }
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === null) return;
    const text = this.pending;
    this.pending = null;
    this.last = performance.now();
    // Updates find their display by id, so their order matters, not their parent.
    this.chain = this.chain.then(() => this.send("update_display_data", text));
  }

  /** Replace the line by its final text and wait until every update is sent. */
  async done(text: string): Promise<void> {
    if (this.finished) return await this.chain;
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = null;
    this.chain = this.chain.then(() => this.send("update_display_data", text));
    await this.chain;
  }
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Force terminal mode on or off (default: stderr is a TTY and CI is unset). */
  tty?: boolean;
  /**
   * Show the bar as one live line in the Jupyter cell (default: inside the Deno kernel,
   * unless `write` is given). The kernel does not show stderr.
   */
  notebook?: boolean;
  /** Seconds between plain lines in non-TTY mode (default 10; a line is also printed at 0 and at the end). */
  every?: number;
  /** Where to write; default stderr. Tests pass a collector. */
  write?: (text: string) => void;
  /** Unit name shown after the rate, e.g. "img" (default "it"). */
  unit?: string;
  /** Print nothing at all. */
  silent?: boolean;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`
    : `${m}:${String(sec).padStart(2, "0")}`;
}

/**
 * Track progress through `total` items.
 *
 * @example
 * ```ts
 * const bar = new Progress("features", images.length, { unit: "img" });
 * for (const img of images) { work(img); bar.tick(1, "loss 0.12"); }
 * bar.done();
 * ```
 */
export class Progress {
  readonly label: string;
  readonly total: number;
  count = 0;
  private readonly start = performance.now();
  private lastPrint = -Infinity;
  private readonly tty: boolean;
  private readonly every: number;
  private readonly write: (t: string) => void;
  private readonly unit: string;
  private readonly silent: boolean;
  private info = "";
  private readonly live: LiveLine | null;

  constructor(label: string, total: number, opts: ProgressOptions = {}) {
    this.label = label;
    this.total = total;
    const notebook = !(opts.silent ?? false) &&
      (opts.notebook ?? (opts.write === undefined && jupyterBroadcast() !== null));
    this.live = notebook ? new LiveLine(`${label}: starting`) : null;
    this.tty = opts.tty ?? (Deno.stderr.isTerminal() && !Deno.env.get("CI"));
    this.every = (opts.every ?? 10) * 1000;
    this.unit = opts.unit ?? "it";
    this.silent = opts.silent ?? false;
    const enc = new TextEncoder();
    this.write = opts.write ?? ((t) => Deno.stderr.writeSync(enc.encode(t)));
    this.render(true);
  }

  /** Seconds since the bar was created. */
  get elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }

  /** Advance by `n` items; `info` (e.g. the current loss) is shown beside the bar. */
  tick(n = 1, info?: string): void {
    throwIfInterrupted(); // Ctrl-C stops every phase with a bar within a step (lib/util/interrupt.ts)
    this.count += n;
    if (info !== undefined) this.info = info;
    this.render(false);
  }

  /** The current status as one line (no bar). */
  line(): string {
    const rate = this.count / Math.max(this.elapsed, 1e-9);
    const eta = (this.total - this.count) / rate;
    const pct = this.total > 0 ? Math.floor((100 * this.count) / this.total) : 100;
    const info = this.info ? ` | ${this.info}` : "";
    return `${this.label}: ${this.count}/${this.total} (${pct}%) ${
      rate.toFixed(1)
    } ${this.unit}/s` +
      ` elapsed ${fmtTime(this.elapsed)} eta ${this.count > 0 ? fmtTime(eta) : "?"}${info}`;
  }

  private render(first: boolean): void {
    if (this.silent) return;
    if (this.live) {
      if (!first) this.live.set(this.line());
      return;
    }
    const now = performance.now();
    const finished = this.count >= this.total;
    if (this.tty) {
      if (!finished && !first && now - this.lastPrint < 100) return;
      const width = 24;
      const filled = this.total > 0 ? Math.round((width * this.count) / this.total) : width;
      const bar = "█".repeat(Math.min(width, filled)) + "░".repeat(Math.max(0, width - filled));
      this.write(`\r\x1b[2K${bar} ${this.line()}`);
    } else {
      if (!first && !finished && now - this.lastPrint < this.every) return;
      if (finished && this.lastPrint === Infinity) return;
      this.write(this.line() + "\n");
    }
    this.lastPrint = finished && !this.tty ? Infinity : now;
  }

  /**
   * Finish the bar (prints the final state once). In a notebook the live line becomes the
   * final state; await the result to be sure it was sent before the cell ends.
   */
  done(info?: string): Promise<void> {
    if (info !== undefined) this.info = info;
    if (this.silent) return Promise.resolve();
    if (this.live) return this.live.done(this.line());
    if (this.tty) this.write(`\r\x1b[2K${this.line()}\n`);
    else if (this.lastPrint !== Infinity) this.write(this.line() + "\n");
    this.lastPrint = Infinity;
    return Promise.resolve();
  }
}
