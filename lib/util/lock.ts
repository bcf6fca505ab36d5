/**
 * A run-folder lock, so two runs never write the same folder at once: `<dir>/run.lock` holds
 * the owner's PID (and its start time, host and command). Taking it is atomic (`createNew`);
 * a lock whose process is gone (or whose PID now belongs to another process, told apart by the
 * start time on Linux) is stale and taken over; a live one is a clear refusal naming the PID.
 * The lock goes on `release()`, on Ctrl-C and on any `runCli` exit (lib/util/interrupt.ts
 * cleanups), and on `Deno.exit` (the `unload` event).
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../io/errors.ts";
import { registerCleanup } from "./interrupt.ts";

/** The lock file's name inside the locked folder. */
export const LOCK_FILE = "run.lock";

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  /** Linux: the process start time (clock ticks after boot, /proc/PID/stat field 22). */
  startTicks?: number;
  hostname: string;
  started: string;
  command: string;
}

/** The folder is locked by another live process (callers may wait and retry). */
export class LockBusyError extends InputError {
  /** The other owner. */
  readonly owner: LockInfo;
  constructor(reason: string, dir: string, owner: LockInfo) {
    super(reason, { file: dir });
    this.name = "LockBusyError";
    this.owner = owner;
  }
}

/** A held lock. */
export interface RunLock {
  /** The lock file. */
  path: string;
  /** Remove the lock (idempotent). */
  release(): void;
}

/** Linux: a process's start time, or null when unknown (no /proc) or the PID is dead. */
function startTicksOf(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // the command name (field 2) is in parentheses and may hold spaces
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(rest[19]); // field 22 overall
  } catch {
    return null;
  }
}

/**
 * Whether the process of a lock is still running: /proc on Linux (PID and start time must
 * match), `kill -0` elsewhere.
 */
export function lockOwnerAlive(info: LockInfo): boolean {
  if (info.hostname !== Deno.hostname()) return true; // cannot tell: assume alive
  if (Deno.build.os === "linux") {
    const ticks = startTicksOf(info.pid);
    if (ticks === null) return false;
    return info.startTicks === undefined || ticks === info.startTicks;
  }
  try {
    const r = new Deno.Command("kill", { args: ["-0", String(info.pid)], stderr: "null" })
      .outputSync();
    return r.success;
  } catch {
    return true;
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(Deno.readTextFileSync(path));
    return typeof v?.pid === "number" ? v as LockInfo : null;
  } catch {
    return null;
  }
}

function tryCreate(path: string, info: LockInfo): boolean {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { write: true, createNew: true });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  }
  try {
    f.writeSync(new TextEncoder().encode(JSON.stringify(info) + "\n"));
  } finally {
    f.close();
  }
  return true;
}

/** Options of {@link acquireLock}. */
export interface AcquireLockOptions {
  /** What to tell the user to do when the folder is locked (appended to the refusal). */
  hint?: string;
}

/**
 * Lock folder `dir` (made when missing) for this process, or throw an {@link InputError}
 * naming the other run's PID. A stale lock (its process is gone) is taken over.
 *
 * @example
 * ```ts
 * const lock = acquireLock(outDir); // "runs/x: in use by another run (PID 4242, …)"
 * try { await train(); } finally { lock.release(); }
 * ```
 */
export function acquireLock(dir: string, opts: AcquireLockOptions = {}): RunLock {
  Deno.mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const me: LockInfo = {
    pid: Deno.pid,
    startTicks: startTicksOf(Deno.pid) ?? undefined,
    hostname: Deno.hostname(),
    started: new Date().toISOString(),
    command: ["deno", ...Deno.args].join(" "),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, me)) return heldLock(path);
    const other = readLock(path);
    if (other && other.pid === Deno.pid && other.hostname === me.hostname) {
      throw new InputError("this process already holds the lock", { file: path });
    }
    if (other && lockOwnerAlive(other)) {
      throw new LockBusyError(
        `in use by another run (PID ${other.pid} on ${other.hostname} since ${other.started}: ` +
          `${other.command})${opts.hint ? `; ${opts.hint}` : ""}`,
        dir,
        other,
      );
    }
    // stale (or unreadable, e.g. a crash mid-write): move it aside atomically, then retry;
    // if another process took it over meanwhile, the rename moves its lock, so re-check
    const aside = `${path}.stale-${Deno.pid}`;
    try {
      Deno.renameSync(path, aside);
      const moved = readLock(aside);
      if (moved && moved.pid !== other?.pid && lockOwnerAlive(moved)) {
        Deno.renameSync(aside, path); // a live lock taken meanwhile: put it back
        continue;
      }
      Deno.removeSync(aside);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  throw new InputError("could not take the lock (it keeps changing hands)", { file: path });
}

function heldLock(path: string): RunLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    forget();
    globalThis.removeEventListener("unload", release);
    try {
      // only our own lock: never remove one a later run took over
      if (readLock(path)?.pid === Deno.pid) Deno.removeSync(path);
    } catch {
      // already gone
    }
  };
  const forget = registerCleanup(release);
  globalThis.addEventListener("unload", release);
  return { path, release };
}
