/**
 * The browser end-to-end check (`bash scripts/e2e.sh`: JupyterLab + headless Chromium, Run All
 * on 00 and 01, ~45 s with cached ci runs) as part of the suite when JupyterLab is installed
 * (`TEDLOC_JUPYTERLAB=1 bash scripts/setup.sh`, or `jupyter` on PATH); skipped with the reason
 * otherwise: JupyterLab comes from pip, which this project's machines may not reach.
 */
import { assert } from "../assert.ts";
import { projectPath } from "../../lib/util/paths.ts";

function haveJupyterLab(): boolean {
  for (
    const jupyter of [
      Deno.env.get("TEDLOC_JUPYTER"),
      projectPath("tmp/jupyterlab/bin/jupyter"),
      "jupyter",
    ]
  ) {
    if (!jupyter) continue;
    try {
      if (
        new Deno.Command(jupyter, { args: ["lab", "--version"], stdout: "null", stderr: "null" })
          .outputSync().success
      ) return true;
    } catch { /* not there */ }
  }
  return false;
}
const HAVE = haveJupyterLab();

Deno.test({
  name: `e2e: JupyterLab Run All through headless Chromium (scripts/e2e.sh)${
    HAVE ? "" : " (skipped: JupyterLab not installed; TEDLOC_JUPYTERLAB=1 bash scripts/setup.sh)"
  }`,
  ignore: !HAVE,
  fn: async () => {
    const res = await new Deno.Command("bash", {
      args: [projectPath("scripts", "e2e.sh")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
    console.log(out.split("\n").filter((l) => l.startsWith("e2e:")).join("\n"));
    assert(res.success, out.slice(-4000));
  },
});
