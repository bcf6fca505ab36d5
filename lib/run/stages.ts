/**
 * One content-addressed cache for the stages of a run (CAM baseline, each training round's
 * checkpoint, the run record): a stage's artifacts live in `<root>/<stage>/<key>/`, where the
 * key hashes everything the stage reads. A folder is reused only when its `stage.json` says
 * it finished with that key; an unfinished one is handed back to `compute`, which may resume
 * from what it left (training does).
 *
 * @module
 */
import { join } from "node:path";
import { writeTextAtomic } from "../io/atomic.ts";
import { InputError } from "../io/errors.ts";
import { acquireLock, LockBusyError, type RunLock } from "../util/lock.ts";
import { throwIfInterrupted } from "../util/interrupt.ts";
import { canonicalJson, contentKey } from "../config/identity.ts";

const MARKER = "stage.json";

/** What {@link cachedStage} needs. */
export interface StageSpec<T> {
  /** Parent of the stage folders. */
  root: string;
  /** Stage name (a folder under `root`). */
  stage: string;
  /** Everything the stage's result depends on (hashed into the folder name). */
  key: unknown;
  /** Read a finished stage's result from its folder. */
  read: (dir: string) => Promise<T>;
  /** Compute the result into the folder (which may hold a previous unfinished attempt). */
  compute: (dir: string) => Promise<T>;
  /** Compute again even when finished. */
  force?: boolean;
  /** Use this folder instead of `<root>/<stage>/<hash>` (a folder the user named). */
  dir?: string;
  /**
   * When another process holds the folder: `wait` for its result (default; shared stages) or
   * `refuse` with one line naming it (a run folder the user named).
   */
  whenBusy?: "wait" | "refuse";
}

/** The folder of a stage: `<root>/<stage>/<hash of key>`. */
export async function stageDir(root: string, stage: string, key: unknown): Promise<string> {
  return join(root, stage, await contentKey(key));
}

/**
 * A folder's `stage.json`: the canonical key it was computed for and whether it finished;
 * null when there is none. An unreadable marker holds no key this code can match.
 */
async function readMarker(dir: string): Promise<{ key: unknown; done: boolean } | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, MARKER));
  } catch {
    return null;
  }
  try {
    const m = JSON.parse(text);
    return { key: m.key, done: m.done === true };
  } catch {
    return { key: null, done: false };
  }
}

/** Whether the stage of `key` has finished in `dir`. */
export async function stageFinished(dir: string, key: unknown): Promise<boolean> {
  const m = await readMarker(dir);
  return m !== null && m.done && m.key === canonicalJson(key);
}

/**
 * The stage's result: read when finished with this key, else computed (and marked finished).
 * A process computing a stage holds its folder's lock; another process that needs the same
 * stage (two runs sharing a training round) waits for it and then reads the result.
 *
 * @example
 * ```ts
 * const cam = await cachedStage({ root: "data/cache/stages", stage: "cam", key,
 *   read: (d) => readCamHead(join(d, "cam.safetensors")),
 *   compute: async (d) => { const c = await train(); await writeCamHead(join(d, "cam.safetensors"), c); return c; } });
 * ```
 */
export async function cachedStage<T>(spec: StageSpec<T>): Promise<T> {
  const dir = spec.dir ?? await stageDir(spec.root, spec.stage, spec.key);
  let force = spec.force ?? false;
  for (;;) {
    if (!force && (await stageFinished(dir, spec.key))) return await spec.read(dir);
    let lock: RunLock;
    try {
      lock = acquireLock(dir);
    } catch (err) {
      if (!(err instanceof LockBusyError) || spec.whenBusy === "refuse") throw err;
      await new Promise((r) => setTimeout(r, WAIT_MS)); // another process computes it
      throwIfInterrupted();
      force = false; // what the other process computes is the forced result
      continue;
    }
    try {
      // finished while we waited for the lock: read it
      if (!force && (await stageFinished(dir, spec.key))) return await spec.read(dir);
      return await computeLocked(spec, dir);
    } finally {
      lock.release();
    }
  }
}

const WAIT_MS = 2000;

async function computeLocked<T>(spec: StageSpec<T>, dir: string): Promise<T> {
  const have = await readMarker(dir);
  if (have !== null && have.key !== canonicalJson(spec.key)) {
    // a folder the user named that holds another run: never silently replace it
    throw new InputError(
      "holds the results of another config: choose another folder or remove this one",
      { file: dir },
    );
  }
  const marker = (done: boolean) =>
    writeTextAtomic(
      join(dir, MARKER),
      JSON.stringify({ key: canonicalJson(spec.key), done }) + "\n",
    );
  await marker(false);
  const result = await spec.compute(dir);
  await marker(true);
  return result;
}
