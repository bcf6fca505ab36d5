import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  canonicalJson,
  DEFAULT_RUN_CONFIG,
  keyLine,
  nearestKey,
  parseSetFlag,
  resolveRunConfig,
  runKey,
} from "../../lib/config/mod.ts";
import { InputError } from "../../lib/io/errors.ts";
import { projectPath } from "../../lib/util/paths.ts";

/** Write `text` to a temp config file and resolve it; returns the InputError's message. */
async function badConfig(text: string, extra: Parameters<typeof resolveRunConfig>[0] = {}) {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-cfg-" });
  const file = join(dir, "bad.json");
  await Deno.writeTextFile(file, text);
  try {
    const err = await assertRejects(() => resolveRunConfig({ file, ...extra }), "");
    assert(err instanceof InputError, String(err));
    return { msg: (err as Error).message.replace(file, "FILE"), file };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("config: an unknown key names the file, line, key path and the nearest valid key", async () => {
  const { msg } = await badConfig('{\n  "optimiser": { "lr": 0.01 }\n}\n');
  assertEquals(msg, "FILE:2: unknown key 'optimiser' (did you mean 'optimizer'?)");
  const nested = await badConfig('{ "optimizer": { "lrr": 0.01 } }');
  assertEquals(nested.msg, "FILE:1: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)");
  const far = await badConfig('{ "zzzzzzzz": 1 }');
  assert(
    far.msg.includes("unknown key 'zzzzzzzz' (valid keys: name, description, dataset"),
    far.msg,
  );
  assertEquals(nearestKey("epoch", ["epochs", "seed"]), "epochs");
  assertEquals(nearestKey("qqqq", ["epochs", "seed"]), null);
});

Deno.test("config: wrong types and ranges name file, key path, value and what is allowed", async () => {
  const cases: [string, string][] = [
    ['{ "optimizer": { "lr": -0.01 } }', "optimizer.lr must be a number > 0 and ≤ 10, got -0.01"],
    ['{ "optimizer": { "lr": 1e30 } }', "optimizer.lr must be a number > 0 and ≤ 10, got 1e+30"],
    ['{ "loss": { "icl": -1 } }', "loss.icl must be a number ≥ 0, got -1"],
    ['{ "train": { "epochs": 2.5 } }', "train.epochs must be an integer ≥ 1, got 2.5"],
    [
      '{\n "train": {\n  "epochs": "5"\n }\n}',
      'train.epochs must be an integer ≥ 1, got "5" (a string)',
    ],
    [
      '{ "anchors": { "ortho": "gram" } }',
      'anchors.ortho must be one of "none", "centre", "qr", "symmetric", got "gram"',
    ],
    ['{ "eval": { "flipTta": 1 } }', "eval.flipTta must be true or false, got 1"],
    ['{ "sampler": 3 }', "sampler must be an object, got 3"],
    ["[1, 2]", "a config must be a JSON object ({...}), got an array"],
    ['"main"', 'a config must be a JSON object ({...}), got string "main"'],
  ];
  for (const [text, want] of cases) {
    const { msg } = await badConfig(text);
    assert(msg.startsWith("FILE") && msg.endsWith(want), `${text}\n→ ${msg}\nwant …${want}`);
  }
  assert((await badConfig('{\n "train": {\n  "epochs": "5"\n }\n}')).msg.startsWith("FILE:3:"));
  const syntax = await badConfig('{\n  "train": { "epochs": 5, }\n}');
  assert(/^FILE(:\d+)?: not valid JSON/.test(syntax.msg), syntax.msg);
  const missing = await assertRejects(() => resolveRunConfig({ file: "/nonexistent/x.json" }), "");
  assertEquals(
    (missing as Error).message,
    "/nonexistent/x.json: cannot read config: file not found",
  );
});

Deno.test("config: --set parses JSON values, names the flag, and goes over the file", async () => {
  assertEquals(parseSetFlag("train.epochs=5"), { train: { epochs: 5 } });
  assertEquals(parseSetFlag("anchors.ortho=none"), { anchors: { ortho: "none" } });
  assertEquals(parseSetFlag("anchors.projDim=null"), { anchors: { projDim: null } });
  const bad = await assertRejects(() => resolveRunConfig({ set: ["train.epochs=0"] }), "");
  assertEquals(
    (bad as Error).message,
    "--set train.epochs: train.epochs must be an integer ≥ 1, got 0",
  );
  const typo = await assertRejects(() => resolveRunConfig({ set: ["trian.epochs=3"] }), "");
  assert((typo as Error).message.includes("did you mean 'train'"), (typo as Error).message);
  await assertRejects(() => resolveRunConfig({ set: ["train.epochs"] }), "key.path=value");
  const cfg = await resolveRunConfig({
    file: projectPath("configs", "default", "loss-kd.json"),
    set: ["loss.kd=2", "train.seed=3"],
  });
  assertEquals([cfg.loss.kd, cfg.loss.pcl, cfg.loss.icl, cfg.train.seed], [2, 0, 0, 3]);
});

Deno.test("config: extends chains resolve in order; cycles are named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tedloc-cfg-" });
  try {
    await Deno.writeTextFile(join(dir, "a.json"), '{ "train": { "epochs": 3, "seed": 1 } }');
    await Deno.writeTextFile(
      join(dir, "b.json"),
      '{ "extends": "a.json", "train": { "seed": 2 } }',
    );
    const cfg = await resolveRunConfig({ file: join(dir, "b.json") });
    assertEquals([cfg.train.epochs, cfg.train.seed, cfg.train.batchSize], [3, 2, 32]);
    await Deno.writeTextFile(join(dir, "a.json"), '{ "extends": "b.json" }');
    await assertRejects(() => resolveRunConfig({ file: join(dir, "b.json") }), "cycle");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: profiles set the default dataset's size under the file's own epochs", async () => {
  const main = projectPath("configs", "default", "main.json");
  const ci = await resolveRunConfig({ file: main, profile: "ci" });
  assertEquals([ci.dataset.profile, ci.train.epochs], ["ci", 8]);
  const full = await resolveRunConfig({ file: main, profile: "full" });
  assertEquals([full.dataset.profile, full.train.epochs], ["full", 30]);
  const quick = await resolveRunConfig({ file: main });
  assertEquals([quick.dataset.profile, quick.train.epochs], ["quick", 10]);
  const own = await resolveRunConfig({ file: main, profile: "ci", set: ["train.epochs=2"] });
  assertEquals(own.train.epochs, 2);
  // CUB-50 has one size: a profile changes nothing (so its runs are shared across profiles)
  const cub = projectPath("configs", "cub50", "main.json");
  assertEquals(
    canonicalJson(await resolveRunConfig({ file: cub, profile: "ci" })),
    canonicalJson(await resolveRunConfig({ file: cub })),
  );
});

Deno.test("config: the README's experiment configs resolve to the setups the tables were made with", async () => {
  const r = (ds: string, v: string) =>
    resolveRunConfig({ file: projectPath("configs", ds, `${v}.json`), profile: "quick" });
  const dm = await r("default", "main");
  assertEquals(dm.sampler, { fgFraction: 0.2, bgFraction: 0.1, fgCount: 8, bgCount: 8 });
  assertEquals([dm.train.epochs, dm.train.rounds, dm.cues.recipe], [10, 1, "inet5*cam*prior"]);
  assertEquals([dm.eval.baselines, dm.eval.flipTta, dm.anchors.ortho], [true, true, "qr"]);
  const cm = await r("cub50", "main");
  assertEquals([cm.train.epochs, cm.train.rounds, cm.anchors.projDim], [20, 1, 128]);
  assertEquals(cm.eval.extraInputSizes, [512]);
  assertEquals([cm.dataset.valFraction, cm.cam.epochs, cm.cam.optimizer.lr], [0, 60, 3e-2]);
  assertEquals((await r("cub50", "loss-kd")).loss, { kd: 1, pcl: 0, icl: 0, pclBg: 1 });
  assertEquals((await r("cub50", "loss-kd")).eval.baselines, false);
  assertEquals((await r("default", "ortho-none")).anchors.ortho, "none");
  // equal setups are one run: the full-loss row and the QR row are the same config
  const key = async (ds: string, v: string) => runKey(await r(ds, v), "data");
  assertEquals(await key("cub50", "ortho-qr"), await key("cub50", "loss-kd-pcl-icl"));
  assert(await key("cub50", "main") !== await key("cub50", "loss-kd-pcl-icl"));
  // ... the protocol row is the full-loss row with the held-out choices of issue 19 (λ_ICL 3,
  // FG from the cue's top 5 %, 512-px maps) and nothing else
  const { eval: _m, ...mainTrain } = await r("cub50", "main");
  const { eval: _f, ...fullTrain } = await r("cub50", "loss-kd-pcl-icl");
  assertEquals([mainTrain.loss.icl, mainTrain.sampler.fgFraction], [3, 0.05]);
  assertEquals(
    canonicalJson({ ...mainTrain, name: "", description: "" }),
    canonicalJson({
      ...fullTrain,
      name: "",
      description: "",
      loss: { ...fullTrain.loss, icl: 3 },
      sampler: { ...fullTrain.sampler, fgFraction: 0.05 },
    }),
  );
  assert(await key("default", "ortho-none") !== await key("cub50", "ortho-none"));
  // every file under configs/ is a valid config
  for (const ds of ["default", "cub50"]) {
    for await (const e of Deno.readDir(projectPath("configs", ds))) {
      await resolveRunConfig({ file: projectPath("configs", ds, e.name) });
    }
  }
});

Deno.test("config: run keys ignore labels and key order, and change with anything computed", async () => {
  const a = structuredClone(DEFAULT_RUN_CONFIG);
  const b = { ...structuredClone(DEFAULT_RUN_CONFIG), name: "other", description: "x" };
  assertEquals(await runKey(a, "d"), await runKey(b, "d"));
  const reverse = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
        Object.keys(v).reverse().map((k) => [k, reverse((v as Record<string, unknown>)[k])]),
      )
      : v;
  const reordered = reverse(a);
  assert(JSON.stringify(reordered) !== JSON.stringify(a));
  assertEquals(canonicalJson(reordered), canonicalJson(a));
  assert(await runKey(a, "d") !== await runKey(a, "e"), "data is part of the key");
  const seeded = structuredClone(a);
  seeded.train.seed = 1;
  assert(await runKey(a, "d") !== await runKey(seeded, "d"), "the seed is part of the key");
  assertEquals(keyLine('{\n "a": {\n  "b": 1\n }\n}', ["a", "b"]), 3);
});

Deno.test("config: eval.extraInputSizes is a checked list, and its empty default leaves run keys as they were", async () => {
  const a = structuredClone(DEFAULT_RUN_CONFIG);
  // the key of a config without the field (as before it existed) equals the default's
  const { extraInputSizes: _gone, ...evalBefore } = a.eval;
  const before = { ...a, eval: evalBefore } as unknown as typeof a;
  assertEquals(await runKey(a, "d"), await runKey(before, "d"));
  const multi = structuredClone(a);
  multi.eval.extraInputSizes = [448];
  assert(await runKey(a, "d") !== await runKey(multi, "d"), "extra sizes are part of the key");
  assertEquals(
    (await resolveRunConfig({ set: ["eval.extraInputSizes=[320,448]"] })).eval.extraInputSizes,
    [320, 448],
  );
  const msg = (s: string) =>
    assertRejects(() => resolveRunConfig({ set: [s] }), "").then((e) => (e as Error).message);
  assert((await msg("eval.extraInputSizes=448")).includes("must be a list"), "a bare number");
  assert((await msg("eval.extraInputSizes=[16]")).includes("eval.extraInputSizes.0"), "range");
  assert((await msg("eval.extraInputSizes=[1,2,3,4,5]")).includes("at most 4"), "length");
});
