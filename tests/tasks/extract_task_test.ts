import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { errorLine } from "./run_task.ts";
import { projectPath } from "../../lib/util/paths.ts";

async function extract(args: string[], cacheDir: string) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", projectPath("tasks", "extract.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", CI: "1", TEDLOC_CACHE_DIR: cacheDir },
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

Deno.test("extract: --shard i/N on two 'machines', --merge verifies and joins; bad flags are one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = await extract(["--profile", "ci", "--shard", "2/2"], dir);
    assertEquals(bad.code, 1, bad.stderr);
    assertEquals(errorLine(bad), "error: --shard '2/2': use i/N with 0 ≤ i < N (e.g. 0/4)");
    const early = await extract(["--profile", "ci", "--merge"], dir);
    assertEquals(early.code, 1, early.stderr);
    assert(/not every shard is present yet/.test(errorLine(early)), early.stderr);
    for (const i of [1, 0]) {
      const r = await extract(["--profile", "ci", "--shard", `${i}/2`, "--workers", "1"], dir);
      assertEquals(r.code, 0, r.stderr);
      assert(
        r.stdout.includes(`train [test,flip]: shard ${i}/2 = images ${i ? "64..127" : "0..63"}`),
        r.stdout,
      );
    }
    const m = await extract(["--profile", "ci", "--merge"], dir);
    assertEquals(m.code, 0, m.stderr);
    assert(m.stdout.includes("train [test,flip]: shards verified"), m.stdout);
    const names = [...Deno.readDirSync(join(dir, "features"))].map((e) => e.name);
    assertEquals(names.filter((n) => n.includes(".shard-")), [], "shards removed once joined");
    // train (test, flip), test (test, flip), val (test): 5 entries of .bin + .json
    assertEquals(names.filter((n) => n.endsWith(".bin")).length, 5, names.join(" "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
