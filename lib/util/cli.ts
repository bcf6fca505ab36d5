/**
 * The shared shape of every `deno task`: `--help`, strict flags, one clear error line and
 * a non-zero exit on bad input.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeFsError, InputError } from "../io/errors.ts";
import {
  installInterruptHandler,
  interruptedBy,
  InterruptedError,
  interruptExitCode,
  resumeHint,
  runCleanups,
} from "./interrupt.ts";

/** One command-line option. */
export interface CliOption {
  type: "string" | "boolean";
  /** One-letter alias. */
  short?: string;
  /** Shown in `--help`. */
  help: string;
  /** Default value (strings only; booleans default to false). */
  default?: string;
  /** May be given several times (values collected in an array). */
  multiple?: boolean;
}

/** A command's description for {@link parseCli}. */
export interface CliSpec {
  /** e.g. `deno task evaluate`. */
  usage: string;
  /** One paragraph shown under the usage line. */
  description: string;
  options: Record<string, CliOption>;
  /** Whether positional arguments are accepted (default false). */
  positionals?: boolean;
}

/** Parsed flags and positionals. */
export interface CliArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Thrown for a bad command line; {@link runCli} prints it with a hint to use --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The `--help` text for a spec. */
export function helpText(spec: CliSpec): string {
  const lines = [`usage: ${spec.usage}`, "", spec.description, "", "options:"];
  for (const [name, o] of Object.entries(spec.options)) {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${
      o.type === "string" ? " VALUE" : ""
    }`;
    const def = o.default !== undefined ? ` (default: ${o.default})` : "";
    lines.push(`  ${flag.padEnd(30)} ${o.help}${def}`);
  }
  lines.push(`  ${"-h, --help".padEnd(30)} show this help`);
  return lines.join("\n");
}

/**
 * Parse `args` against `spec`. Returns `null` when `--help` was printed.
 *
 * @example
 * ```ts
 * const a = parseCli(Deno.args, { usage: "deno task x --in F", description: "…",
 *   options: { in: { type: "string", help: "input file" } } });
 * ```
 */
export function parseCli(args: string[], spec: CliSpec): CliArgs | null {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(helpText(spec));
    return null;
  }
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals: spec.positionals ?? false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as CliArgs["values"];
  for (const [name, o] of Object.entries(spec.options)) {
    if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  }
  return { values, positionals: parsed.positionals };
}

/** A required string flag, or a UsageError naming it. */
export function requireFlag(args: CliArgs, name: string): string {
  const v = args.values[name];
  if (typeof v !== "string" || v.length === 0) throw new UsageError(`missing required --${name}`);
  return v;
}

/** Parse a numeric flag, or throw a UsageError naming it. */
export function numberFlag(args: CliArgs, name: string): number | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${name} must be a number, got '${v}'`);
  }
  return n;
}

/** Bounds of a numeric flag for {@link intFlag} and {@link floatFlag}; all optional. */
export interface FlagRange {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
  /** Values must be greater than this (exclusive lower bound). */
  above?: number;
  /** Values must be less than this (exclusive upper bound). */
  below?: number;
}

function rangeText(r: FlagRange): string {
  const parts: string[] = [];
  if (r.min !== undefined) parts.push(`≥ ${r.min}`);
  if (r.above !== undefined) parts.push(`> ${r.above}`);
  if (r.max !== undefined) parts.push(`≤ ${r.max}`);
  if (r.below !== undefined) parts.push(`< ${r.below}`);
  return parts.join(" and ");
}

function checkRange(name: string, v: number, kind: string, r: FlagRange, raw: string): number {
  const ok = (r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max) &&
    (r.above === undefined || v > r.above) && (r.below === undefined || v < r.below);
  if (!ok) {
    const want = rangeText(r);
    throw new UsageError(`--${name} must be ${kind}${want ? ` ${want}` : ""}, got '${raw}'`);
  }
  return v;
}

/**
 * A finite number flag within `range`, or a UsageError naming the flag and the allowed range
 * (undefined when the flag is absent and has no default).
 *
 * @example
 * ```ts
 * const tau = floatFlag(a, "threshold", { min: 0, max: 1 }); // "--threshold must be a number ≥ 0 and ≤ 1, got '2'"
 * const lr = floatFlag(a, "lr", { above: 0, max: 10 });
 * ```
 */
export function floatFlag(args: CliArgs, name: string, range: FlagRange = {}): number | undefined {
  const v = numberFlag(args, name);
  return v === undefined ? undefined : checkRange(name, v, "a number", range, String(v));
}

/**
 * An integer flag within `range`, or a UsageError naming the flag and the allowed range
 * (undefined when the flag is absent and has no default).
 *
 * @example
 * ```ts
 * const topk = intFlag(a, "topk", { min: 1 }); // "--topk must be an integer ≥ 1, got '0'"
 * ```
 */
export function intFlag(args: CliArgs, name: string, range: FlagRange = {}): number | undefined {
  const raw = args.values[name];
  const v = numberFlag(args, name);
  if (v === undefined) return undefined;
  if (!Number.isInteger(v)) {
    const want = rangeText(range);
    throw new UsageError(`--${name} must be an integer${want ? ` ${want}` : ""}, got '${raw}'`);
  }
  return checkRange(name, v, "an integer", range, String(raw));
}

/**
 * The one line `runCli` prints for an error, and the exit status; null for an unexpected
 * error (a bug), which keeps its stack trace.
 */
export function cliErrorLine(err: unknown): { line: string; code: number } | null {
  const signal = err instanceof InterruptedError ? err.signal : interruptedBy();
  if (err instanceof UsageError) return { line: `error: ${err.message} (see --help)`, code: 2 };
  if (err instanceof InputError) return { line: `error: ${err.message}`, code: 1 };
  // after Ctrl-C any failure (a closed pool, an aborted wait) is the interruption's echo
  if (signal !== null) {
    return { line: `interrupted (${signal}): ${resumeHint()}`, code: interruptExitCode(signal) };
  }
  const fs = describeFsError(err);
  if (fs !== null) return { line: `error: ${fs}`, code: 1 };
  return null;
}

/**
 * Run a task's main function: bad input (InputError, UsageError) and output-side file-system
 * errors (EROFS, EACCES, ENOSPC, a file where a folder goes…) print one line `error: …` and
 * exit 1 (2 for usage); SIGINT/SIGTERM (see lib/util/interrupt.ts) stop the work at its next
 * progress tick, remove registered temporary files and exit 130 (SIGTERM 143) with a line on
 * how to resume; other errors keep their stack.
 *
 * @example
 * ```ts
 * if (import.meta.main) await runCli(() => main(Deno.args));
 * ```
 */
export async function runCli(main: () => Promise<void> | void): Promise<void> {
  const uninstall = installInterruptHandler();
  try {
    await main();
  } catch (err) {
    runCleanups();
    const out = cliErrorLine(err);
    if (out === null) throw err;
    console.error(out.line);
    Deno.exit(out.code);
  } finally {
    uninstall();
  }
  const signal = interruptedBy();
  if (signal !== null) {
    // the signal came after the last check: the outputs are complete, but say it stopped
    console.error(`interrupted (${signal}) after the work was done: the outputs are complete`);
    Deno.exit(interruptExitCode(signal));
  }
}
