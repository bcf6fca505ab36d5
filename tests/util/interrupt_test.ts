import { assert, assertEquals, assertRejects } from "../assert.ts";
import { writeDirAtomic } from "../../lib/io/atomic.ts";
import {
  InterruptedError,
  interruptSignal,
  registerTempPath,
  requestInterrupt,
  resetInterrupt,
  runCleanups,
  throwIfInterrupted,
} from "../../lib/util/interrupt.ts";
import { Progress } from "../../lib/util/progress.ts";
import { spawnDeno } from "./child.ts";

Deno.test("interrupt: Progress.tick throws InterruptedError after a signal; the signal aborts", () => {
  const bar = new Progress("x", 10, { silent: true });
  bar.tick();
  try {
    requestInterrupt("SIGTERM");
    assert(interruptSignal().aborted);
    let err: unknown;
    try {
      bar.tick();
    } catch (e) {
      err = e;
    }
    assert(err instanceof InterruptedError, "tick honours the interrupt");
    assertEquals((err as InterruptedError).signal, "SIGTERM");
  } finally {
    resetInterrupt();
  }
  throwIfInterrupted(); // reset: no longer throws
  assert(!interruptSignal().aborted);
});

Deno.test("interrupt: an interrupted writeDirAtomic leaves neither output nor temp; cleanups remove registered temps", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(
      () =>
        writeDirAtomic(`${dir}/out`, async (tmp) => {
          await Deno.writeTextFile(`${tmp}/a`, "a");
          requestInterrupt();
          new Progress("x", 2, { silent: true }).tick();
        }),
      "interrupted by SIGINT",
    );
    resetInterrupt();
    assertEquals([...Deno.readDirSync(dir)].length, 0, "nothing left behind");
    Deno.mkdirSync(`${dir}/t`);
    const forget = registerTempPath(`${dir}/t`);
    runCleanups();
    forget();
    assertEquals([...Deno.readDirSync(dir)].length, 0, "registered temp removed");
  } finally {
    resetInterrupt();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("interrupt: SIGINT to a task stops it within a step, exit 130, temp folder gone, says how to resume", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = spawnDeno(new URL("./fixtures/interrupt_child.ts", import.meta.url), [
      `${dir}/out`,
    ]);
    const tmp = (await child.waitFor("ready ")).slice(6);
    assert(Deno.statSync(tmp).isDirectory);
    child.proc.kill("SIGINT");
    const r = await child.finish();
    assertEquals(r.code, 130, r.stderr);
    assert(r.stderr.includes("interrupted (SIGINT): rerun with --resume"), r.stderr);
    assert(!r.stderr.includes("    at "), `no stack trace: ${r.stderr}`);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [], "no output, no temp");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
