import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { errorLine, runTask } from "./run_task.ts";
import { spawnDeno } from "../util/child.ts";
import { projectPath } from "../../lib/util/paths.ts";
import { readCheckpoint } from "../../lib/train/checkpoint.ts";

Deno.test("train: a bad --out, flag or config is one line before any work; a run folder in use is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-train-" });
  try {
    const file = join(dir, "f");
    await Deno.writeTextFile(file, "hi");
    const t0 = performance.now();
    const asFile = await runTask("train.ts", ["--profile", "ci", "--out", file]);
    assertEquals(asFile.code, 1, asFile.stderr);
    assert(errorLine(asFile).startsWith(`error: ${file}`), asFile.stderr);
    const flags: [string[], number, string][] = [
      [["--workers", "0"], 2, "--workers"],
      [["--proj-dim=-3"], 1, "--proj-dim: anchors.projDim must be an integer ≥ 1, got -3"],
      [["--lr=1e30"], 1, "--lr: optimizer.lr must be a number > 0 and ≤ 10, got 1e+30"],
      [["--set", "loss.pcl=-1"], 1, "--set loss.pcl: loss.pcl must be a number ≥ 0, got -1"],
      [["--cues", "inet5*camm"], 1, "unknown cue 'camm'"],
    ];
    for (const [args, code, want] of flags) {
      const r = await runTask("train.ts", ["--profile", "ci", "--out", join(dir, "x"), ...args]);
      assertEquals(r.code, code, `${args}: ${r.stderr}`);
      assert(errorLine(r).includes(want), `${args}: ${r.stderr}`);
    }
    assert(performance.now() - t0 < 60_000, "all refused before slow work");
    // a run folder another process holds: refused, naming its PID
    const busy = join(dir, "busy");
    const holder = spawnDeno(new URL("../util/fixtures/lock_child.ts", import.meta.url), [busy]);
    await holder.waitFor("locked");
    const r = await runTask("train.ts", [
      "--profile",
      "ci",
      "--set",
      "train.epochs=1",
      "--out",
      busy,
    ]);
    holder.proc.kill("SIGINT");
    await holder.finish();
    assertEquals(r.code, 1, r.stderr);
    assert(errorLine(r).includes(`in use by another run (PID ${holder.proc.pid}`), r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Start `deno task train` with its own cache folder. */
function startTrain(args: string[], cacheDir: string) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", projectPath("tasks", "train.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TEDLOC_CACHE_DIR: cacheDir },
  }).spawn();
}

/** Lines of every `metrics.jsonl` under `dir` (finished epochs of the runs training there). */
async function epochsDone(dir: string): Promise<number> {
  let n = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      const t = await Deno.readTextFile(join(dir, e.name, "metrics.jsonl")).catch(() => "");
      n += t.split("\n").filter(Boolean).length;
    }
  } catch {
    // not made yet
  }
  return n;
}

Deno.test("train: Ctrl-C mid-training exits 130 saying how to resume; the same command resumes to the uninterrupted result", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-train-int-" });
  try {
    const args = (out: string) => ["--profile", "ci", "--set", "train.epochs=16", "--out", out];
    const cache = join(dir, "cache");
    const child = startTrain(args(join(dir, "a")), cache);
    const t0 = performance.now();
    while ((await epochsDone(join(cache, "stages", "fit"))) < 3) {
      if (performance.now() - t0 > 120_000) throw new Error("training did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGINT");
    const o = await child.output();
    const err = new TextDecoder().decode(o.stderr);
    assertEquals(o.code, 130, err);
    assert(err.includes("run the same command again"), err);
    const again = await startTrain(args(join(dir, "a")), cache).output();
    assertEquals(again.code, 0, new TextDecoder().decode(again.stderr));
    // uninterrupted, from scratch (own caches)
    const whole = await startTrain(args(join(dir, "b")), join(dir, "cache2")).output();
    assertEquals(whole.code, 0, new TextDecoder().decode(whole.stderr));
    const rec = async (d: string) =>
      JSON.parse(await Deno.readTextFile(join(dir, d, "results.json")));
    const [a, b] = [await rec("a"), await rec("b")];
    assertEquals(
      a.history.map((h: { loss: number }) => h.loss),
      b.history.map((h: { loss: number }) => h.loss),
    );
    assertEquals(
      a.rows.map((r: { metrics: unknown }) => r.metrics),
      b.rows.map((r: { metrics: unknown }) => r.metrics),
    );
    // the weights (not the whole file: its history records seconds per epoch)
    const weights = async (d: string) => {
      const ck = await readCheckpoint(join(dir, d, "last.safetensors"));
      return Object.entries(ck.weights).map(([k, w]) => [k, Array.from(w.data)]);
    };
    const [wa, wb] = [await weights("a"), await weights("b")];
    assert(wa.length > 0 && JSON.stringify(wa) === JSON.stringify(wb), "bit-identical weights");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
