/**
 * A front end's Run All (every cell queued at once; bench/run_all.py with jupyter_client):
 * what lib's display helpers send stays under its own cell even when each cell first shows
 * 2 MB, which makes Deno's kernel file late outputs under the next cell.
 */
import { assertEquals } from "../assert.ts";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { projectPath } from "../../lib/util/paths.ts";
import { raceNotebook, runAllPlacement } from "./race_notebook.ts";

const HAVE_CLIENT = new Deno.Command("/usr/bin/python3", {
  args: ["-c", "import jupyter_client"],
  stdout: "null",
  stderr: "null",
}).outputSync().success;

Deno.test({
  name: `Run All: lib's print/displayBundle outputs stay under their own cell${
    HAVE_CLIENT ? "" : " (skipped: /usr/bin/python3 lacks jupyter_client; run scripts/setup.sh)"
  }`,
  ignore: !HAVE_CLIENT,
  fn: async () => {
    // inside the project: the kernel finds deno.json (lib's npm imports) from its folder
    await Deno.mkdir(projectPath("tmp"), { recursive: true });
    const dir = await Deno.makeTempDir({ prefix: "runall-", dir: projectPath("tmp") });
    try {
      const { json, expected } = raceNotebook(16, {
        style: "lib",
        libDisplayUrl: pathToFileURL(projectPath("lib", "viz", "display.ts")).href,
        payloadBytes: 2e6,
      });
      // the kernel's own execute_result (a bare last expression) is its race, not lib's
      const ours = expected.map((e) => new Map([...e].filter(([, t]) => t !== "execute_result")));
      const path = join(dir, "race.ipynb");
      await Deno.writeTextFile(path, json);
      const res = await new Deno.Command("/usr/bin/python3", {
        args: [projectPath("bench", "run_all.py"), path, "--deno", Deno.execPath()],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(res.success, true, new TextDecoder().decode(res.stderr).slice(-1500));
      const { cells } = JSON.parse(new TextDecoder().decode(res.stdout));
      assertEquals(runAllPlacement(cells, ours), { misplaced: [], lost: [] });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
