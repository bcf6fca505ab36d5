/**
 * Measures the Deno kernel's output race on the 40-cell test notebook.
 *
 *   deno run -A bench/notebook_race.ts [runs]            headless: nbconvert vs our runner
 *   deno run -A bench/notebook_race.ts --run-all [runs]  a front end's Run All (all cells
 *                                                        queued at once, bench/run_all.py) of
 *                                                        24 cells that each show 1 MB first:
 *                                                        console.log + Deno.jupyter.display
 *                                                        vs lib's print/displayBundle
 *
 * Headless: plain `jupyter nbconvert --execute` loses outputs the kernel publishes after a
 * cell's idle; the project's runner keeps them. Run All: every output is filed under the cell
 * whose header the kernel stamped on it, and Deno's kernel stamps the header of whichever
 * cell runs when its output queue gets to the message, so after a large display a cell's
 * last outputs land under the next cell. lib's `print`/`displayBundle` wait until the queue
 * has drained (`jupyterSend`) and should never be misplaced.
 *
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runNotebook } from "../lib/notebook/mod.ts";
import { projectPath } from "../lib/util/paths.ts";
import {
  missingOutputs,
  raceNotebook,
  type RaceStyle,
  runAllPlacement,
} from "../tests/notebook/race_notebook.ts";

const runAll = Deno.args.includes("--run-all");
const runs = Number(Deno.args.find((a) => !a.startsWith("--")) ?? 3);
// Inside the project (tmp/ is git-ignored): a kernel finds deno.json, and so lib's npm
// imports, from its working folder, the notebook's.
await Deno.mkdir(projectPath("tmp"), { recursive: true });
const dir = await Deno.makeTempDir({ prefix: "race-", dir: projectPath("tmp") });

/** One Run All of a generated notebook through bench/run_all.py. */
export async function runAllOnce(
  path: string,
): Promise<{ cells: { type: string; text: string }[][]; seconds: number }> {
  const res = await new Deno.Command("/usr/bin/python3", {
    args: [projectPath("bench", "run_all.py"), path, "--deno", Deno.execPath()],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!res.success) throw new Error(new TextDecoder().decode(res.stderr).slice(-2000));
  return JSON.parse(new TextDecoder().decode(res.stdout));
}

async function headless(): Promise<void> {
  const kernelDir = join(dir, "jupyter", "kernels", "deno");
  await Deno.mkdir(kernelDir, { recursive: true });
  await Deno.writeTextFile(
    join(kernelDir, "kernel.json"),
    JSON.stringify({
      argv: [Deno.execPath(), "jupyter", "--kernel", "--conn", "{connection_file}"],
      display_name: "Deno",
      language: "typescript",
      env: { NO_COLOR: "1" },
    }),
  );
  const { json, expected } = raceNotebook(40);
  const total = expected.reduce((s, e) => s + e.size, 0);
  const src = join(dir, "race.ipynb");
  await Deno.writeTextFile(src, json);
  for (let run = 1; run <= runs; run++) {
    const out = join(dir, `nbconvert${run}.ipynb`);
    const t0 = performance.now();
    const res = await new Deno.Command("/usr/bin/python3", {
      args: ["-m", "nbconvert", "--execute", "--to", "notebook", "--output", out, src],
      env: { JUPYTER_PATH: join(dir, "jupyter") },
      stdout: "null",
      stderr: "null",
    }).output();
    if (!res.success) throw new Error("nbconvert failed");
    const lost = missingOutputs(JSON.parse(await Deno.readTextFile(out)), expected);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `nbconvert run ${run}: lost ${lost.length}/${total} (${secs} s) ${lost.join("; ")}`,
    );
  }
  for (let run = 1; run <= runs; run++) {
    const r = await runNotebook(src, { outDir: join(dir, `runner${run}`) });
    const lost = missingOutputs(JSON.parse(await Deno.readTextFile(r.outPath)), expected);
    console.log(
      `runner    run ${run}: lost ${lost.length}/${total} (${r.seconds.toFixed(1)} s; ` +
        `${r.lateAfterIdle} caught after idle, ${r.lateRescued} during a later cell)`,
    );
  }
}

async function frontEndRunAll(): Promise<void> {
  const libDisplayUrl = pathToFileURL(projectPath("lib", "viz", "display.ts")).href;
  for (const style of ["console", "lib"] as RaceStyle[]) {
    // 1 MB before every cell's outputs: what a figure-heavy notebook does to the kernel's queue
    const { json, expected } = raceNotebook(24, { style, libDisplayUrl, payloadBytes: 1e6 });
    const total = expected.reduce((s, e) => s + e.size, 0);
    const src = join(dir, `race-${style}.ipynb`);
    await Deno.writeTextFile(src, json);
    for (let run = 1; run <= runs; run++) {
      const r = await runAllOnce(src);
      const { misplaced, lost } = runAllPlacement(r.cells, expected);
      console.log(
        `Run All ${style.padEnd(7)} run ${run}: ${misplaced.length}/${total} under the wrong ` +
          `cell, ${lost.length} lost (${r.seconds.toFixed(1)} s) ${misplaced.join("; ")}`,
      );
    }
  }
}

try {
  await (runAll ? frontEndRunAll() : headless());
} finally {
  await Deno.remove(dir, { recursive: true });
}
