/**
 * Measures the Deno kernel's output race: how many outputs of the 40-cell test notebook
 * plain `jupyter nbconvert --execute` loses, against the project's runner.
 *
 *   deno run -A bench/notebook_race.ts [runs]     (default 3 runs of each)
 *
 * Both use the same private kernelspec (the deno running this script).
 *
 * @module
 */
import { join } from "node:path";
import { runNotebook } from "../lib/notebook/mod.ts";
import { missingOutputs, raceNotebook } from "../tests/notebook/race_notebook.ts";

const runs = Number(Deno.args[0] ?? 3);
const dir = await Deno.makeTempDir({ prefix: "tedloc-race-" });
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
try {
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
} finally {
  await Deno.remove(dir, { recursive: true });
}
