import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { InputError } from "../../lib/io/errors.ts";
import { acquireLock, LOCK_FILE } from "../../lib/util/lock.ts";
import { spawnDeno } from "./child.ts";

const child = new URL("./fixtures/lock_child.ts", import.meta.url);

Deno.test("lock: a second process is refused naming the first's PID; released on SIGINT", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = spawnDeno(child, [dir]);
    await a.waitFor("locked");
    const b = spawnDeno(child, [dir]);
    const rb = await b.finish();
    assertEquals(rb.code, 1, rb.stderr);
    const line = rb.stderr.trim();
    assert(!line.includes("\n"), `one line: ${line}`);
    assert(line.includes(`PID ${a.proc.pid}`) && line.includes(dir), line);
    assert(line.includes("in use by another run") && line.includes("pick another --out"), line);
    a.proc.kill("SIGINT");
    const ra = await a.finish();
    assertEquals(ra.code, 130, ra.stderr);
    assert(!Deno.readDirSync(dir).some((e) => e.name === LOCK_FILE), "lock released");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lock: a stale lock (its process killed) is taken over; release removes it; same process refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = spawnDeno(child, [dir]);
    await a.waitFor("locked");
    a.proc.kill("SIGKILL"); // no cleanup: the lock stays, stale
    await a.finish();
    assert(Deno.statSync(join(dir, LOCK_FILE)).isFile, "stale lock left by SIGKILL");
    const lock = acquireLock(dir);
    const info = JSON.parse(Deno.readTextFileSync(lock.path));
    assertEquals(info.pid, Deno.pid);
    let err: unknown;
    try {
      acquireLock(dir);
    } catch (e) {
      err = e;
    }
    assert(err instanceof InputError && err.message.includes("already holds"), String(err));
    lock.release();
    lock.release(); // idempotent
    assert(!Deno.readDirSync(dir).some((e) => e.name === LOCK_FILE));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
