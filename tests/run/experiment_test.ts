import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  experimentConfig,
  loadExperiment,
  loadExperimentModels,
  readExperimentRecord,
  seedSummary,
} from "../../lib/run/experiment.ts";
import { InputError } from "../../lib/io/errors.ts";
import { readCheckpoint } from "../../lib/train/checkpoint.ts";
import { projectPath } from "../../lib/util/paths.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** Run a task script; `env` is added to the environment. */
function task(script: string, args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", projectPath("tasks", script), ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("experiments: seedSummary gives mean, sample sd and range per metric", () => {
  const rec = (cls: number, v2: number) =>
    ({
      rows: [
        { method: "cam", metrics: { maxBoxAcc: 1, maxBoxAccV2: 1, top1Loc: 1, top1Cls: 1 } },
        {
          method: "tedloc",
          metrics: { maxBoxAcc: 50, maxBoxAccV2: v2, top1Loc: 20, top1Cls: cls },
        },
      ],
    }) as unknown as Parameters<typeof seedSummary>[0][number];
  const s = seedSummary([rec(34.4, 54.4), rec(36.3, 53.8), rec(33.1, 53.3)]);
  assertEquals(s.top1Cls.n, 3);
  assert(Math.abs(s.top1Cls.mean - 34.6) < 1e-9);
  // sample sd of 34.4, 36.3, 33.1: sqrt(((−0.2)² + 1.7² + (−1.5)²) / 2) = sqrt(2.59)
  assert(Math.abs(s.top1Cls.sd - Math.sqrt(2.59)) < 1e-9);
  assertEquals([s.maxBoxAccV2.min, s.maxBoxAccV2.max], [53.3, 54.4]);
  assertEquals(s.maxBoxAcc.sd, 0);
  assertEquals(seedSummary([rec(30, 40)]).top1Cls.sd, 0, "one seed: sd 0");
  let threw = false;
  try {
    seedSummary([rec(30, 40)], "vanilla");
  } catch (err) {
    threw = err instanceof InputError && /vanilla/.test((err as Error).message);
  }
  assert(threw, "a missing row is named");
});

Deno.test("experiments: variants are the configs' files; equal configs share one run folder", async () => {
  const runsDir = await Deno.makeTempDir({ prefix: "tedloc-runs-" });
  try {
    const ctx = await loadExperiment("default", { profile: "ci", runsDir });
    const qr = experimentConfig(ctx, "ortho-qr"), full = experimentConfig(ctx, "loss-kd-pcl-icl");
    assertEquals([qr.name, full.name], ["ortho-qr", "loss-kd-pcl-icl"]);
    assertEquals(qr.train.epochs, 8, "the ci profile's epochs");
    assertEquals(await readExperimentRecord(ctx, "loss-kd"), null, "no run yet");
    const none = await assertRejects(() => loadExperimentModels(ctx, "loss-kd"), "no finished run");
    assert(none instanceof InputError);
    // a named-only variant exists where its config file does: not on the embedded default
    await assertRejects(() => Promise.resolve(experimentConfig(ctx, "cam-pw13")), "cam-pw13.json");
    const seeded = await loadExperiment("default", { profile: "ci", runsDir, seed: 2 });
    assertEquals(experimentConfig(seeded, "main").train.seed, 2);
    const bad = await assertRejects(
      () => loadExperiment("default", { profile: "ci", set: ["train.epocs=3"] }),
      "did you mean 'train.epochs'",
    );
    assert(bad instanceof InputError);
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("experiment + train tasks: bad flags exit 2 before work; two seeds print mean ± sd; train --config gives experiment's record", async () => {
  const bad = await task("experiment.ts", ["--seeds", "0,x"]);
  assertEquals(bad.code, 2);
  assert(decode(bad.stderr).includes("--seeds takes non-negative integers"));
  const par = await task("experiment.ts", ["--parallel", "0"]);
  assertEquals(par.code, 2);
  assert(decode(par.stderr).includes("--parallel must be an integer ≥ 1, got '0'"));
  const dir = await Deno.makeTempDir({ prefix: "tedloc-seeds-" });
  try {
    const flags = ["--dataset", "default", "--profile", "ci", "--runs-dir", join(dir, "runs")];
    const o = await task("experiment.ts", [
      ...flags,
      "--variant",
      "main",
      "--seeds",
      "0,1",
      "--parallel",
      "1",
    ]);
    const out = decode(o.stdout);
    assertEquals(o.code, 0, decode(o.stderr).slice(-2000));
    assert(out.includes("TeD-Loc over seeds 0, 1: mean ± sd (min–max)"), out);
    assert(/\| main \| [\d.]+ ± [\d.]+ \(/.test(out), out);
    const records = [];
    for await (const e of Deno.readDir(join(dir, "runs", "default-ci"))) {
      records.push(
        JSON.parse(
          await Deno.readTextFile(join(dir, "runs", "default-ci", e.name, "results.json")),
        ),
      );
    }
    assertEquals(records.map((r) => r.config.train.seed).sort(), [0, 1], "one run per seed");
    // multi-scale maps: a new run (own key) that reuses the trained model (same history);
    // TeD-Loc's rows pay for the 320-px tokens, the baselines' rows are the native ones
    const ms = await task("experiment.ts", [
      ...flags,
      "--variant",
      "main",
      "--set",
      "eval.extraInputSizes=[320]",
      "--json",
      join(dir, "ms.json"),
    ]);
    assertEquals(ms.code, 0, decode(ms.stderr).slice(-2000));
    const msRec = JSON.parse(await Deno.readTextFile(join(dir, "ms.json"))).main;
    const native = records.find((r) => r.config.train.seed === 0);
    assert(msRec.runKey !== native.runKey, "extra sizes make another run");
    assertEquals(msRec.history, native.history, "the fit stage is reused");
    const row = (r: typeof native, m: string) =>
      r.rows.find((x: { method: string }) => x.method === m);
    assertEquals(row(msRec, "cam").metrics, row(native, "cam").metrics);
    assert(row(msRec, "tedloc").headFlops > 2 * row(native, "tedloc").headFlops, "320-px maps");
    assert(row(msRec, "tedloc+flip"), "flip rows average both sizes' flip views");
    const msDir = join(dir, "runs", "default-ci", msRec.runKey);
    const { info } = await readCheckpoint(join(msDir, "last.safetensors"));
    assertEquals(info.extraInputSizes, [320], "deno task localize fuses the sizes evaluated");
    // `train` without --config runs the README's main config: computed from scratch (own
    // caches), it gives the very same record as the experiment's main run
    const t = await task(
      "train.ts",
      ["--profile", "ci", "--out", join(dir, "train")],
      { TEDLOC_CACHE_DIR: join(dir, "cache") },
    );
    assertEquals(t.code, 0, decode(t.stderr).slice(-2000));
    const viaTrain = JSON.parse(await Deno.readTextFile(join(dir, "train", "results.json")));
    const viaExperiment = records.find((r) => r.config.train.seed === 0);
    assertEquals(viaTrain.runKey, viaExperiment.runKey);
    const metrics = (r: { rows: { method: string; metrics: unknown }[] }) =>
      r.rows.map((x) => [x.method, x.metrics]);
    assertEquals(metrics(viaTrain), metrics(viaExperiment));
    assertEquals(
      viaTrain.history.map((h: { loss: number }) => h.loss),
      viaExperiment.history.map((h: { loss: number }) => h.loss),
    );
    const saved = JSON.parse(await Deno.readTextFile(join(dir, "train", "config.json")));
    assertEquals(saved.name, "main", "the resolved config is saved");
    assertEquals(saved.sampler, { fgFraction: 0.2, bgFraction: 0.1, fgCount: 8, bgCount: 8 });
    assertEquals([saved.train.epochs, saved.eval.flipTta], [8, true]);
    // a typo'd key stops train before any work, naming the file and the nearest key
    await Deno.writeTextFile(join(dir, "typo.json"), '{ "optimiser": { "lr": 0.01 } }');
    const typo = await task("train.ts", ["--config", join(dir, "typo.json")]);
    assertEquals(typo.code, 1);
    assert(
      decode(typo.stderr).includes(
        "typo.json:1: unknown key 'optimiser' (did you mean 'optimizer'?)",
      ),
      decode(typo.stderr),
    );
    // another config into the same --out folder is refused, not silently overwritten
    const other = await task("train.ts", [
      "--config",
      projectPath("configs", "default", "loss-kd.json"),
      "--profile",
      "ci",
      "--set",
      "train.epochs=1",
      "--out",
      join(dir, "train"),
    ]);
    assertEquals(other.code, 1);
    assert(
      decode(other.stderr).includes("holds the results of another config"),
      decode(other.stderr),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
