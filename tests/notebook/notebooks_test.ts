/**
 * The project's notebooks (notebooks/*.ipynb): they type-check, and they execute on the
 * `ci` profile with an output in every code cell and no error. Figures go to a temporary
 * folder (TEDLOC_FIGURES_DIR) so the committed figures/ are not overwritten.
 */
import { assert, assertEquals } from "../assert.ts";
import { basename, join } from "node:path";
import {
  checkExecutedNotebook,
  listNotebooks,
  notebookToTypeScript,
  runNotebooks,
} from "../../lib/notebook/mod.ts";
import { projectPath } from "../../lib/util/paths.ts";

const NOTEBOOKS = listNotebooks(projectPath("notebooks"));
const HAVE_JUPYTER = new Deno.Command("/usr/bin/python3", {
  args: ["-c", "import nbclient, nbformat"],
  stdout: "null",
  stderr: "null",
}).outputSync().success;

Deno.test("notebooks: every code cell type-checks (cells joined into one module)", async () => {
  assert(NOTEBOOKS.length > 0, "notebooks/ has notebooks");
  const dir = await Deno.makeTempDir({ prefix: "tedloc-nbcheck-" });
  try {
    const files: string[] = [];
    for (const nb of NOTEBOOKS) {
      const file = join(dir, basename(nb, ".ipynb") + ".ts");
      await Deno.writeTextFile(file, await notebookToTypeScript(nb, { absoluteImports: true }));
      files.push(file);
    }
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--config", projectPath("deno.json"), ...files],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const msg = new TextDecoder().decode(res.stderr).replaceAll(`file://${dir}/`, "notebook ");
    assert(res.success, msg);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: `notebooks: all execute on the ci profile, every code cell has output, no errors${
    HAVE_JUPYTER ? "" : " (skipped: /usr/bin/python3 lacks nbclient; run scripts/setup.sh)"
  }`,
  ignore: !HAVE_JUPYTER,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tedloc-nbrun-" });
    try {
      const figures = join(dir, "figures");
      const results = await runNotebooks(NOTEBOOKS, {
        outDir: join(dir, "executed"),
        env: { TEDLOC_PROFILE: "ci", TEDLOC_FIGURES_DIR: figures },
        log: (line) => console.log(line),
      });
      for (const r of results) {
        assertEquals(await checkExecutedNotebook(r.outPath), [], basename(r.path));
      }
      const written = [...Deno.readDirSync(figures)].map((e) => e.name);
      assert(written.includes("00_quickstart.pdf"), `figures written: ${written.join(", ")}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
