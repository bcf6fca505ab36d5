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
} from "../../lib/train/experiment.ts";
import { PIPELINE_RECORD_VERSION } from "../../lib/train/pipeline.ts";
import { resolveTrainConfig } from "../../lib/train/trainer.ts";
import { InputError } from "../../lib/io/errors.ts";

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
