import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { spawnDeno } from "../util/child.ts";
import { cachedStage, stageDir } from "../../lib/run/stages.ts";

Deno.test("cachedStage: computes once per key, reuses finished stages, redoes unfinished ones", async () => {
  const root = await Deno.makeTempDir({ prefix: "tedloc-stage-" });
  try {
    let computed = 0;
    const spec = (key: unknown, fail = false) => ({
      root,
      stage: "demo",
      key,
      read: async (d: string) => Number(await Deno.readTextFile(join(d, "out.txt"))),
      compute: async (d: string) => {
        computed++;
        await Deno.writeTextFile(join(d, "out.txt"), String(computed * 10));
        if (fail) throw new Error("interrupted");
        return computed * 10;
      },
    });
    assertEquals(await cachedStage(spec({ a: 1, b: 2 })), 10);
    assertEquals(await cachedStage(spec({ b: 2, a: 1 })), 10, "same key in another order: reused");
    assertEquals(computed, 1);
    assertEquals(await cachedStage(spec({ a: 2 })), 20, "another key: computed");
    await assertRejects(() => cachedStage(spec({ a: 3 }, true)), "interrupted");
    assertEquals(await cachedStage(spec({ a: 3 })), 40, "an unfinished stage is computed again");
    assertEquals(await cachedStage({ ...spec({ a: 1, b: 2 }), force: true }), 50, "force");
    const dir = await stageDir(root, "demo", { a: 1, b: 2 });
    assertEquals(await Deno.readTextFile(join(dir, "out.txt")), "50");
    // a folder named by the user that holds another key is refused, not overwritten
    await assertRejects(
      () => cachedStage({ ...spec({ a: 9 }), dir }),
      "holds the results of another config",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cachedStage: a stage another process is computing is waited for (shared stages) or refused (run folders)", async () => {
  const root = await Deno.makeTempDir({ prefix: "tedloc-stage-" });
  try {
    const key = { shared: 1 };
    const dir = await stageDir(root, "demo", key);
    const holder = spawnDeno(new URL("../util/fixtures/lock_child.ts", import.meta.url), [dir]);
    await holder.waitFor("locked");
    const spec = {
      root,
      stage: "demo",
      key,
      read: async (d: string) => await Deno.readTextFile(join(d, "out.txt")),
      compute: async (d: string) => {
        await Deno.writeTextFile(join(d, "out.txt"), "mine");
        return "mine";
      },
    };
    await assertRejects(
      () => cachedStage({ ...spec, whenBusy: "refuse" }),
      "in use by another run",
    );
    const t0 = performance.now();
    const waiting = cachedStage(spec);
    setTimeout(() => holder.proc.kill("SIGINT"), 1500);
    assertEquals(await waiting, "mine", "computed once the holder let go");
    assert(performance.now() - t0 >= 1400, "it waited");
    await holder.finish();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
