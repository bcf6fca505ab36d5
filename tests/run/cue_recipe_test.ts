import { assertEquals, assertRejects } from "../assert.ts";
import { parseCueRecipe, recipeUsesCam } from "../../lib/run/cue_recipe.ts";

Deno.test("cue recipes: products bind tighter than means; bad terms are named", async () => {
  assertEquals(parseCueRecipe("inet5*cam*prior"), [[
    { kind: "inet", topK: 5 },
    { kind: "cam" },
    { kind: "prior" },
  ]]);
  assertEquals(parseCueRecipe(" cam + prior*pca "), [[{ kind: "cam" }], [
    { kind: "prior" },
    { kind: "pca" },
  ]]);
  assertEquals(parseCueRecipe("files:/x/y*attention"), [[
    { kind: "files", dir: "/x/y" },
    { kind: "attention" },
  ]]);
  assertEquals(recipeUsesCam(parseCueRecipe("prior+cam")), true);
  assertEquals(recipeUsesCam(parseCueRecipe("inet3*prior")), false);
  for (
    const [bad, msg] of [
      ["camm*prior", "unknown cue 'camm'"],
      ["cam**prior", "empty cue term"],
      ["cam+", "empty cue term"],
      ["", "empty cue recipe"],
      ["inet0", "k must be in 1..1000"],
      ["files:", "unknown cue 'files:'"],
    ]
  ) {
    await assertRejects(() => Promise.resolve().then(() => parseCueRecipe(bad)), msg);
  }
});
