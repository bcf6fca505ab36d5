/**
 * A progress bar for long work: a redrawn bar with rate and ETA on a terminal, plain
 * periodic lines elsewhere (CI logs, notebook outputs).
 *
 * @module
 */
import { throwIfInterrupted } from "./interrupt.ts";

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Force terminal mode on or off (default: stderr is a TTY and CI is unset). */
  tty?: boolean;
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

  constructor(label: string, total: number, opts: ProgressOptions = {}) {
    this.label = label;
    this.total = total;
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

  /** Finish the bar (prints the final state once). */
  done(info?: string): void {
    if (info !== undefined) this.info = info;
    if (this.silent) return;
    if (this.tty) this.write(`\r\x1b[2K${this.line()}\n`);
    else if (this.lastPrint !== Infinity) this.write(this.line() + "\n");
    this.lastPrint = Infinity;
  }
}
