import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { errorLine, runTask } from "./run_task.ts";
import { spawnDeno } from "../util/child.ts";
import { projectPath } from "../../lib/util/paths.ts";

Deno.test("tasks: an output path that cannot be written is one line (path + cause), exit 1, before work", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "file");
    await Deno.writeTextFile(file, "hi");
    const cases: [string, string[], string][] = [
      [
        "anchors.ts",
        ["--embeddings", "e", "--names", "n", "--out", dir],
        `${dir}: cannot write: it is a folder, expected a file`,
      ],
      [
        "make_dataset.ts",
        ["--profile", "ci", "--out", file],
        `${file}: cannot write: it exists and is not a folder`,
      ],
      [
        "make_dataset.ts",
        ["--profile", "ci", "--out", join(file, "x")],
        `${join(file, "x")}: cannot write: ${file} is a file, not a folder`,
      ],
      [
        "prepare_cub.ts",
        ["--root", "r", "--out", file],
        `${file}: cannot write: it exists and is not a folder`,
      ],
    ];
    for (const [task, args, want] of cases) {
      const r = await runTask(task, args);
      assertEquals(r.code, 1, `${task}: ${r.stderr}`);
      assertEquals(errorLine(r), `error: ${want}`, task);
    }
    if (Deno.build.os === "linux") {
      // sysfs refuses new files even to root: a stand-in for a read-only or foreign folder
      const r = await runTask("prepare_cub.ts", ["--root", "r", "--out", "/sys/tedloc-out"]);
      assertEquals(r.code, 1, r.stderr);
      assert(errorLine(r).startsWith("error: /sys/tedloc-out: cannot write: "), r.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tasks: numeric flags out of range name the flag (exit 2)", async () => {
  const cases: [string, string[], string][] = [
    ["make_dataset.ts", ["--workers=-1"], "--workers must be an integer ≥ 0"],
    ["make_dataset.ts", ["--seed", "1.5"], "--seed must be an integer"],
    [
      "anchor_stats.ts",
      ["--anchors", "a", "--lift-scale", "0"],
      "--lift-scale must be a number > 0, got '0'",
    ],
    [
      "anchors.ts",
      [
        "--weights",
        "w",
        "--classes",
        "c",
        "--vocab",
        "v",
        "--out",
        "o.safetensors",
        "--batch-size",
        "0",
      ],
      "--batch-size must be an integer ≥ 1, got '0'",
    ],
  ];
  for (const [task, args, want] of cases) {
    const r = await runTask(task, args);
    assertEquals(r.code, 2, `${task}: ${r.stderr}`);
    assert(errorLine(r).includes(want), r.stderr);
  }
});

Deno.test("make-dataset: SIGINT stops it, exit 130, no <out>.tmp-PID-* folder left", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = spawnDeno(projectPath("tasks", "make_dataset.ts"), [
      "--profile",
      "quick",
      "--workers",
      "1",
      "--out",
      join(dir, "ds"),
    ]);
    // wait until the temporary folder exists, then interrupt
    for (let i = 0; i < 200 && ![...Deno.readDirSync(dir)].length; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    child.proc.kill("SIGINT");
    const r = await child.finish();
    assertEquals(r.code, 130, r.stderr);
    assert(r.stderr.includes("interrupted (SIGINT)"), r.stderr);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [], "no output, no temp");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
