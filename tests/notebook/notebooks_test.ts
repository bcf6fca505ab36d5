/**
 * The project's notebooks (notebooks/*.ipynb): they type-check, and they execute on the
 * `ci` profile (CUB off) with an output in every code cell and no error, and each exports its
 * figures and tables. Figures go to a temporary folder (TEDLOC_FIGURES_DIR) so the committed
 * figures/ are not overwritten. Experiment runs land in runs/ (cached: a second run only
 * re-evaluates); a cold ci run of all notebooks trains the five distinct ci variants.
 */
import { assert, assertEquals } from "../assert.ts";
import { basename, join } from "node:path";
import {
  checkExecutedNotebook,
  listNotebooks,
  NOTEBOOK_SIZE_LIMIT,
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
        // CUB off: the ci run must not depend on (or spend time on) the real data
        env: { TEDLOC_PROFILE: "ci", TEDLOC_FIGURES_DIR: figures, TEDLOC_WITH_CUB: "0" },
        log: (line) => console.log(line),
      });
      for (const r of results) {
        assertEquals(await checkExecutedNotebook(r.outPath), [], basename(r.path));
        // what a viewer sees: a PNG with every figure, no machine paths, a bounded size
        const text = await Deno.readTextFile(r.outPath);
        assert(!text.includes(projectPath()), `${basename(r.path)}: absolute project path`);
        assert(r.bytes < NOTEBOOK_SIZE_LIMIT, `${basename(r.path)}: ${r.bytes} bytes`);
        for (const cell of JSON.parse(text).cells) {
          for (const o of cell.outputs ?? []) {
            if (o.data?.["application/vnd.plotly.v1+json"]) {
              assert(o.data["image/png"], `${basename(r.path)}: a figure without image/png`);
            }
          }
        }
      }
      const written = [...Deno.readDirSync(figures)].map((e) => e.name);
      // each experiment notebook ends by exporting its figures (svg+png+pdf) and tables (csv+md)
      const expected = [
        "00_quickstart.pdf",
        ...[
          "01_maxboxacc_tau_default",
          "02_ablations_default",
          "02_tsne_default_qr",
          "02_epoch_curves_default",
        ]
          .flatMap((b) => [`${b}.svg`, `${b}.png`, `${b}.pdf`]),
        ...["03_complexity", "04_visual_default"].flatMap((
          b,
        ) => [`${b}.svg`, `${b}.png`, `${b}.pdf`]),
        ...[
          "01_table1",
          "02_table2_losses",
          "02_table5_ortho",
          "03_table3_complexity",
          "04_visual_cases",
        ]
          .flatMap((b) => [`${b}.csv`, `${b}.md`]),
      ];
      const missing = expected.filter((f) => !written.includes(f));
      assertEquals(missing, [], `figures written: ${written.join(", ")}`);
      for (const f of expected) {
        assert(Deno.statSync(join(figures, f)).size > 0, `${f} is empty`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
