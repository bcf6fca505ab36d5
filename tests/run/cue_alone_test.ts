/**
 * The cue-alone row on the ci profile: the config's cue recipe scored on the test split,
 * in a temporary cache (features, CAM baseline and cues computed there).
 */
import { assert, assertEquals } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { resolveRunConfig } from "../../lib/config/resolve.ts";
import { disposeRunInputs, loadRunInputs } from "../../lib/run/inputs.ts";
import { evaluateCueAlone } from "../../lib/run/cue_alone.ts";

await initBackend("wasm");

Deno.test("evaluateCueAlone: the recipe's own maps scored on every test image", async () => {
  const cacheDir = await Deno.makeTempDir();
  try {
    const cfg = await resolveRunConfig({ file: "configs/default/main.json", profile: "ci" });
    const inputs = await loadRunInputs(cfg);
    const r = await evaluateCueAlone(cfg, { cacheDir, workers: 1, progress: false });
    assertEquals(r.recipe, cfg.cues.recipe);
    assertEquals(r.split, cfg.eval.split);
    assertEquals(r.metrics.count, inputs.dataset.splits[cfg.eval.split].imageIds.length);
    assert(r.metrics.maxBoxAcc >= 0 && r.metrics.maxBoxAcc <= 100, `${r.metrics.maxBoxAcc}`);
    assertEquals(r.metrics.top1Cls, undefined); // a cue has no classes
    assertEquals(r.heldOut, null); // the default has a val split: nothing held out of train
    // the recipe is what is scored: the centre prior alone gives other numbers
    const prior = await resolveRunConfig({
      file: "configs/default/main.json",
      profile: "ci",
      set: ["cues.recipe=prior"],
    });
    const p = await evaluateCueAlone(prior, { cacheDir, workers: 1, progress: false });
    assertEquals(p.recipe, "prior");
    assert(
      p.metrics.maxBoxAccV2 !== r.metrics.maxBoxAccV2,
      `prior ${p.metrics.maxBoxAccV2} vs ${cfg.cues.recipe} ${r.metrics.maxBoxAccV2}`,
    );
  } finally {
    await disposeRunInputs();
    await Deno.remove(cacheDir, { recursive: true });
  }
});
