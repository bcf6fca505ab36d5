/**
 * The shared shape of every `deno task`: `--help`, strict flags, one clear error line and
 * a non-zero exit on bad input.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { InputError } from "../io/errors.ts";

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

/**
 * Run a task's main function: bad input (InputError, UsageError) prints one line
 * `error: …` and exits 1 (2 for usage); other errors keep their stack.
 *
 * @example
 * ```ts
 * if (import.meta.main) await runCli(() => main(Deno.args));
 * ```
 */
export async function runCli(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`error: ${err.message} (see --help)`);
      Deno.exit(2);
    }
    if (err instanceof InputError) {
      console.error(`error: ${err.message}`);
      Deno.exit(1);
    }
    throw err;
  }
}
