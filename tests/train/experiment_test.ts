import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  ALL_VARIANTS,
  canonicalVariant,
  type ExperimentContext,
  experimentFlags,
  experimentOptions,
  experimentRunDir,
  experimentSetupKey,
  loadExperimentModels,
  readExperimentRecord,
  seedSummary,
} from "../../lib/train/experiment.ts";
import { PIPELINE_RECORD_VERSION } from "../../lib/train/pipeline.ts";
import { resolveTrainConfig } from "../../lib/train/trainer.ts";
import { InputError } from "../../lib/io/errors.ts";
import { projectPath } from "../../lib/util/paths.ts";

Deno.test("experiments: equal setups share one run, different ones do not", () => {
  const def = { kind: "default" as const, profile: "quick" as const };
  // on the embedded default the full-loss and QR rows are the main run itself
  assertEquals(canonicalVariant(def, "loss-kd-pcl-icl"), "main");
  assertEquals(canonicalVariant(def, "ortho-qr"), "main");
  for (const v of ["loss-kd", "loss-kd-pcl", "ortho-none", "ortho-symmetric"] as const) {
    assertEquals(canonicalVariant(def, v), v);
  }
  // CUB-50's main run self-trains for 2 rounds, so the 1-round ablation rows are their own run
  const cub = { kind: "cub50" as const, profile: "quick" as const };
  assertEquals(canonicalVariant(cub, "loss-kd-pcl-icl"), "loss-kd-pcl-icl");
  assertEquals(canonicalVariant(cub, "ortho-qr"), "loss-kd-pcl-icl");
  assertEquals(experimentOptions(cub, "main").rounds, 2);
  assertEquals(experimentOptions(cub, "loss-kd").train?.loss, { pcl: 0, icl: 0 });
  assertEquals(new Set(ALL_VARIANTS).size, 7);
  // CUB-50's reported models train on all of train; the setup key tells the two apart
  assertEquals(experimentOptions(cub, "main").valFraction, 0);
  assert(experimentSetupKey(cub, "ortho-none") !== experimentSetupKey(def, "ortho-none"));
  // a training seed is part of the setup; seed 0 is the default setup itself
  assertEquals(experimentOptions({ ...def, seed: 2 }, "main").train?.seed, 2);
  assertEquals(experimentSetupKey({ ...def, seed: 0 }, "main"), experimentSetupKey(def, "main"));
  assert(experimentSetupKey({ ...def, seed: 2 }, "main") !== experimentSetupKey(def, "main"));
  const seeded = {
    kind: "default",
    seed: 2,
    loadOptions: { profile: "quick", runsDir: "/r" },
  } as unknown as ExperimentContext;
  assertEquals(experimentFlags(seeded).slice(-2), ["--seeds", "2"], "children get the seed");
});

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

Deno.test("experiments: run records are read only when made by this setup and evaluation version", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ctx = {
      kind: "default",
      profile: "ci",
      runRoot: dir,
      dataKey: "data-1",
      loadOptions: { profile: "ci", runsDir: dir },
    } as unknown as ExperimentContext;
    assertEquals(await readExperimentRecord(ctx, "main"), null, "no run yet");
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "data.json"), JSON.stringify({ dataKey: "data-1" }));
    const o = experimentOptions(ctx, "ortho-none");
    const record = (version: number, epochs?: number) => ({
      rows: [],
      validation: {},
      roundMetrics: [{}],
      cueValidation: null,
      config: {
        recordVersion: version,
        cues: o.cues,
        cuesSource: "x",
        train: resolveTrainConfig({ ...o.train, ...(epochs ? { epochs } : {}) }),
        valIds: 1,
        fitIds: 1,
      },
      timings: {},
    });
    const path = join(experimentRunDir(ctx, "ortho-none"), "results.json");
    const setupPath = join(dir, "ortho-none", "setup.json");
    await Deno.mkdir(join(dir, "ortho-none"), { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(record(PIPELINE_RECORD_VERSION)));
    assertEquals(await readExperimentRecord(ctx, "ortho-none"), null, "no setup recorded");
    await Deno.writeTextFile(setupPath, experimentSetupKey(ctx, "main"));
    assertEquals(await readExperimentRecord(ctx, "ortho-none"), null, "another setup");
    await Deno.writeTextFile(setupPath, experimentSetupKey(ctx, "ortho-none"));
    assert((await readExperimentRecord(ctx, "ortho-none")) !== null);
    await Deno.writeTextFile(path, JSON.stringify(record(PIPELINE_RECORD_VERSION - 1)));
    assertEquals(await readExperimentRecord(ctx, "ortho-none"), null, "older evaluation");
    await Deno.writeTextFile(path, JSON.stringify(record(PIPELINE_RECORD_VERSION, 99)));
    assertEquals(await readExperimentRecord(ctx, "ortho-none"), null, "other epochs");
    // ortho-qr is the main run here: its record is main's (with the +flip rows main adds)
    const m = experimentOptions(ctx, "main");
    await Deno.mkdir(join(dir, "main"), { recursive: true });
    await Deno.writeTextFile(join(dir, "main", "setup.json"), experimentSetupKey(ctx, "main"));
    await Deno.writeTextFile(
      join(dir, "main", "results.json"),
      JSON.stringify({
        ...record(PIPELINE_RECORD_VERSION),
        config: {
          ...record(PIPELINE_RECORD_VERSION).config,
          flipTta: true,
          train: resolveTrainConfig(m.train),
        },
      }),
    );
    assert((await readExperimentRecord(ctx, "ortho-qr")) !== null, "shared with main");
    // runs made from other data (a regenerated dataset, other anchors) are not this context's
    const other = { ...ctx, dataKey: "data-2" } as ExperimentContext;
    assertEquals(await readExperimentRecord(other, "ortho-qr"), null, "other data");
    await Deno.writeTextFile(join(dir, "data.json"), "{not json");
    assertEquals(await readExperimentRecord(ctx, "ortho-qr"), null, "unreadable data.json");
    await Deno.writeTextFile(join(dir, "data.json"), JSON.stringify({ dataKey: "data-1" }));
    assert(m.flipTta && !o.flipTta, "main adds flip rows, ablations do not");
    await Deno.writeTextFile(path, "{not json");
    const bad = await assertRejects(() => readExperimentRecord(ctx, "ortho-none"), "results.json");
    assert(bad instanceof InputError);
    const none = await assertRejects(() => loadExperimentModels(ctx, "loss-kd"), "no finished run");
    assert(none instanceof InputError);
    assertEquals(experimentFlags(ctx), [
      "--dataset",
      "default",
      "--profile",
      "ci",
      "--runs-dir",
      dir,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("experiment task: bad --seeds exit 2; two seeds run apart and print mean ± sd", async () => {
  const task = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", projectPath("tasks/experiment.ts"), ...args],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const bad = await task("--seeds", "0,x");
  assertEquals(bad.code, 2);
  assert(new TextDecoder().decode(bad.stderr).includes("--seeds takes non-negative integers"));
  const dir = await Deno.makeTempDir({ prefix: "tedloc-seeds-" });
  try {
    const flags = ["--dataset", "default", "--profile", "ci", "--runs-dir", dir];
    const o = await task(...flags, "--variant", "loss-kd", "--seeds", "0,1", "--parallel", "1");
    const out = new TextDecoder().decode(o.stdout);
    assertEquals(o.code, 0, new TextDecoder().decode(o.stderr).slice(-2000));
    assert(out.includes("TeD-Loc over seeds 0, 1: mean ± sd (min–max)"), out);
    assert(/\| loss-kd \| [\d.]+ ± [\d.]+ \(/.test(out), out);
    // seed 0 where the notebooks read it, seed 1 beside it; each trained with its own seed
    for (const [root, seed] of [["default-ci", 0], ["default-ci-seed1", 1]] as const) {
      const rec = JSON.parse(await Deno.readTextFile(join(dir, root, "loss-kd", "results.json")));
      assertEquals(rec.config.train.seed, seed);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
