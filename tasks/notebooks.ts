/**
 * `deno task notebooks [names…] [--out DIR] [--profile ci|quick|full]`: execute notebooks
 * headlessly (every `notebooks/*.ipynb` in name order when no names are given) and write
 * them back with their outputs.
 *
 * @module
 */
// Only the runner and CLI helpers: importing lib/mod.ts would load tfjs, sharp and puppeteer
// for nothing (seconds of start-up).
import {
  listNotebooks,
  NotebookError,
  resolveNotebookNames,
  runNotebooks,
} from "../lib/notebook/mod.ts";
import { numberFlag, parseCli, projectPath, runCli, UsageError } from "../lib/util/mod.ts";
import { resolve } from "node:path";

const PROFILES = ["ci", "quick", "full"];

async function main(args: string[]): Promise<void> {
  const cli = parseCli(args, {
    usage: "deno task notebooks [NAME…] [--out DIR] [--profile ci|quick|full]",
    description:
      "Execute notebooks with the Deno kernel (all of notebooks/*.ipynb in order when no " +
      "NAME is given; a NAME is a path, a file name, a name without .ipynb or a unique " +
      "prefix) and write them back with outputs, in place or into --out. The kernel " +
      "inherits the environment; --profile sets TEDLOC_PROFILE.",
    positionals: true,
    options: {
      out: { type: "string", short: "o", help: "write executed notebooks into this folder" },
      profile: {
        type: "string",
        short: "p",
        help: "TEDLOC_PROFILE for the notebooks: ci, quick or full (default: $TEDLOC_PROFILE)",
      },
      "timeout-per-cell": { type: "string", help: "seconds one cell may run", default: "1800" },
    },
  });
  if (cli === null) return;
  const profile = cli.values.profile as string | undefined;
  if (profile !== undefined && !PROFILES.includes(profile)) {
    throw new UsageError(`--profile must be one of ${PROFILES.join(", ")}, got '${profile}'`);
  }
  const dir = projectPath("notebooks");
  // `deno task` runs in the project root; paths on the command line are relative to where
  // the user typed them (INIT_CWD).
  const userCwd = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  const paths = cli.positionals.length > 0
    ? resolveNotebookNames(cli.positionals, dir, userCwd)
    : listNotebooks(dir);
  const out = cli.values.out as string | undefined;
  if (paths.length === 0) throw new UsageError(`no notebooks in ${dir}`);
  const t0 = performance.now();
  try {
    await runNotebooks(paths, {
      outDir: out === undefined ? undefined : resolve(userCwd, out),
      env: profile ? { TEDLOC_PROFILE: profile } : {},
      timeoutPerCell: numberFlag(cli, "timeout-per-cell"),
    });
  } catch (err) {
    if (err instanceof NotebookError) {
      console.error(`error: ${err.details()}`);
      Deno.exit(1);
    }
    throw err;
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`notebooks: ${paths.length} executed in ${secs} s`);
}

if (import.meta.main) await runCli(() => main(Deno.args));
