/**
 * The notebook runner against the real Deno kernel: no output lost (the kernel publishes
 * some outputs after its idle message), clear failures, env and --out handling.
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  checkExecutedNotebook,
  listNotebooks,
  NotebookError,
  resolveNotebookNames,
  runNotebook,
} from "../../lib/notebook/mod.ts";
import { InputError } from "../../lib/io/errors.ts";
import { PROJECT_ROOT } from "../../lib/util/paths.ts";
import { join } from "node:path";
import {
  type Cell,
  code,
  missingOutputs,
  notebook,
  outputText as text,
  raceNotebook,
} from "./race_notebook.ts";

const HAVE_JUPYTER = new Deno.Command("/usr/bin/python3", {
  args: ["-c", "import nbclient, nbformat"],
  stdout: "null",
  stderr: "null",
}).outputSync().success;
const SKIP = HAVE_JUPYTER
  ? ""
  : " (skipped: /usr/bin/python3 lacks nbclient; run scripts/setup.sh)";

Deno.test({
  name: `runner: a 40-cell notebook keeps every output, 3 runs in a row${SKIP}`,
  ignore: !HAVE_JUPYTER,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tedloc-nbtest-" });
    try {
      const { json, expected } = raceNotebook(40);
      const src = join(dir, "race.ipynb");
      await Deno.writeTextFile(src, json);
      const total = expected.reduce((s, e) => s + e.size, 0);
      for (let run = 1; run <= 3; run++) {
        const out = join(dir, `out${run}`);
        const r = await runNotebook(src, { outDir: out });
        const executed = JSON.parse(await Deno.readTextFile(r.outPath));
        const missing = missingOutputs(executed, expected);
        console.log(
          `run ${run}: ${total - missing.length}/${total} outputs, ${r.lateAfterIdle} arrived ` +
            `after idle, ${r.lateRescued} during a later cell, ${r.seconds.toFixed(1)} s`,
        );
        assertEquals(missing, [], `run ${run} lost outputs`);
        assertEquals(await checkExecutedNotebook(r.outPath), []);
        assertEquals(r.codeCells, 40);
      }
      assertEquals(await Deno.readTextFile(src), json, "the source notebook is untouched");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `runner: outputs carry project-relative paths, the file is world-readable${SKIP}`,
  ignore: !HAVE_JUPYTER,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tedloc-nbtest-" });
    try {
      const src = join(dir, "paths.ipynb");
      const root = JSON.stringify(PROJECT_ROOT);
      await Deno.writeTextFile(
        src,
        notebook([
          code(0, `console.log(${root} + "/figures/a.png");`),
          code(1, `Deno.jupyter.display({ "text/plain": "in " + ${root} }, { raw: true });`),
        ]),
      );
      const r = await runNotebook(src);
      const cells = JSON.parse(await Deno.readTextFile(src)).cells;
      assertEquals(text(cells[0].outputs[0]).trim(), "figures/a.png");
      assertEquals(text(cells[1].outputs[0]).trim(), "in .");
      // an ordinary file (0666 less the umask), not mkstemp's private 0600
      const umask = Number(
        new TextDecoder().decode(
          (await new Deno.Command("sh", { args: ["-c", "umask"], stdout: "piped" }).output())
            .stdout,
        ).trim() || "22",
      );
      const want = 0o666 & ~parseInt(String(umask), 8);
      assertEquals((await Deno.stat(src)).mode! & 0o777, want);
      assert(r.bytes > 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `runner: with no grace period, late outputs are still attached to their cell${SKIP}`,
  ignore: !HAVE_JUPYTER,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tedloc-nbtest-" });
    try {
      const { json, expected } = raceNotebook(40);
      const src = join(dir, "race.ipynb");
      await Deno.writeTextFile(src, json);
      const r = await runNotebook(src, { grace: 0 });
      const executed = JSON.parse(await Deno.readTextFile(src));
      console.log(`grace 0: ${r.lateRescued} outputs came during a later cell`);
      assertEquals(missingOutputs(executed, expected), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `runner: a failing cell names the notebook, cell index, first line and error${SKIP}`,
  ignore: !HAVE_JUPYTER,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tedloc-nbtest-" });
    try {
      const src = join(dir, "broken.ipynb");
      const cells: Cell[] = [
        code(0, 'console.log("fine")'),
        { id: "m1", cell_type: "markdown", metadata: {}, source: "# prose" },
        code(2, "const answer = 42;\nconst y = undefinedFunction(answer);\ny"),
        code(3, 'console.log("never runs")'),
      ];
      const json = notebook(cells);
      await Deno.writeTextFile(src, json);
      const err = await assertRejects(() => runNotebook(src), "broken.ipynb", "cell 2");
      assert(err instanceof NotebookError, `expected NotebookError, got ${err.name}`);
      assertEquals(err.cellIndex, 2);
      assertEquals(err.firstLine, "const answer = 42;");
      assertEquals(err.ename, "ReferenceError");
      assert(err.evalue.includes("undefinedFunction"), err.evalue);
      assert(err.message.includes("`const answer = 42;`"), err.message);
      assertEquals(await Deno.readTextFile(src), json, "a failed notebook is not written");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `runner: a cell over timeoutPerCell fails naming the cell${SKIP}`,
  ignore: !HAVE_JUPYTER,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tedloc-nbtest-" });
    try {
      const src = join(dir, "slow.ipynb");
      await Deno.writeTextFile(
        src,
        notebook([code(0, "1 + 1"), code(1, "await new Promise((r) => setTimeout(r, 20_000));")]),
      );
      const t0 = performance.now();
      const err = await assertRejects(
        () => runNotebook(src, { timeoutPerCell: 1 }),
        "slow.ipynb",
        "cell 1",
        "timed out",
      );
      assert(err instanceof NotebookError);
      assert(
        performance.now() - t0 < 15_000,
        "the run stops at the timeout, not at the cell's end",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    `deno task notebooks: progress lines, --out, --profile reaches the kernel, failure exit${SKIP}`,
  ignore: !HAVE_JUPYTER,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tedloc-nbtest-" });
    try {
      const good = join(dir, "a_good.ipynb"), bad = join(dir, "b_bad.ipynb");
      await Deno.writeTextFile(
        good,
        notebook([code(0, 'Deno.env.get("TEDLOC_PROFILE")'), code(1, "Deno.cwd()")]),
      );
      await Deno.writeTextFile(bad, notebook([code(0, 'throw new Error("boom here")')]));
      const out = join(dir, "out");
      const res = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "tasks/notebooks.ts", good, bad, "--out", out, "--profile", "ci"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { TEDLOC_PROFILE: "full" },
      }).output();
      const stdout = new TextDecoder().decode(res.stdout);
      const stderr = new TextDecoder().decode(res.stderr);
      assertEquals(res.code, 1, stdout + stderr);
      assert(/\[1\/2\] a_good\.ipynb: 2 code cells \(2 cells\) in [\d.]+ s/.test(stdout), stdout);
      assert(
        stderr.includes("error: notebook") && stderr.includes("b_bad.ipynb") &&
          stderr.includes('cell 0 (`throw new Error("boom here")`)') &&
          stderr.includes("boom here"),
        stderr,
      );
      const executed = JSON.parse(await Deno.readTextFile(join(out, "a_good.ipynb")));
      assert(text(executed.cells[0].outputs[0]).includes('"ci"'), "--profile overrides the env");
      assert(
        text(executed.cells[1].outputs[0]).includes(dir),
        "the kernel runs in the notebook's folder",
      );
      assertEquals(
        JSON.parse(await Deno.readTextFile(good)).cells[0].outputs,
        [],
        "input untouched",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("deno task notebooks: a missing notebook is a one-line error and exit 1", async () => {
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/notebooks.ts", "no/such/notebook.ipynb"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(res.stderr);
  assertEquals(res.code, 1);
  assert(
    stderr.includes("notebook not found") && stderr.includes("no/such/notebook.ipynb"),
    stderr,
  );
});

Deno.test("runNotebook: a missing path is an InputError naming it", async () => {
  const err = await assertRejects(
    () => runNotebook("/nonexistent/x.ipynb"),
    "/nonexistent/x.ipynb",
  );
  assert(err instanceof InputError);
});

Deno.test("checkExecutedNotebook: finds cells without outputs, errors, missing counts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-nbtest-" });
  try {
    const path = join(dir, "x.ipynb");
    const ok = (i: number): Cell => ({
      ...code(i, `${i}`),
      execution_count: i + 1,
      outputs: [{ output_type: "execute_result", data: { "text/plain": `${i}` } }],
    });
    await Deno.writeTextFile(
      path,
      notebook([
        ok(0),
        { ...code(1, "const a = 1;"), execution_count: 2 },
        {
          ...code(2, "boom()"),
          execution_count: 3,
          outputs: [{ output_type: "error", ename: "E", evalue: "v" }],
        },
        { ...ok(3), execution_count: null },
        { ...code(4, "  \n"), execution_count: null },
        { ...code(5, "setup();"), execution_count: 4, metadata: { tags: ["allow-empty"] } },
        { id: "m", cell_type: "markdown", metadata: {}, source: "text" },
      ]),
    );
    assertEquals(await checkExecutedNotebook(path), [
      "cell 1 (`const a = 1;`): no outputs",
      "cell 2 (`boom()`): error E: v",
      "cell 3 (`3`): not executed",
    ]);
    await assertRejects(() => checkExecutedNotebook(join(dir, "none.ipynb")), "notebook not found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolveNotebookNames/listNotebooks: names, prefixes, order, unknown names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-nbtest-" });
  try {
    for (const n of ["01_b.ipynb", "00_a.ipynb", "02_c.ipynb", "notes.txt"]) {
      await Deno.writeTextFile(join(dir, n), "{}");
    }
    assertEquals(listNotebooks(dir), ["00_a", "01_b", "02_c"].map((n) => join(dir, `${n}.ipynb`)));
    assertEquals(resolveNotebookNames(["01_b", "00_a.ipynb", "02"], dir), [
      join(dir, "01_b.ipynb"),
      join(dir, "00_a.ipynb"),
      join(dir, "02_c.ipynb"),
    ]);
    await assertRejects(() => resolveNotebookNames(["0"], dir), "ambiguous");
    await assertRejects(
      () => resolveNotebookNames(["zz"], dir),
      "notebook not found: 'zz'",
      "00_a",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
