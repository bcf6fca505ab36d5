/**
 * Output checks done at a task's start, before any slow work: a read-only folder, a file
 * where a folder should be, missing permissions or a full disk are reported as one line
 * naming the path and the cause (an {@link OutputError}), not as a stack trace after minutes
 * of work.
 *
 * The check writes (and removes) a small probe file where the output will go, because only
 * a write tells EROFS, EACCES and ENOSPC apart reliably (root passes permission bits; a
 * read-only bind mount looks writable to `stat`). Nothing is created otherwise: a missing
 * output folder is probed in its nearest existing ancestor and made later by the writer.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { fsErrorParts, OutputError } from "../io/errors.ts";

/** Bytes the probe writes: enough that a disk with no free block refuses it. */
const PROBE_BYTES = 64 * 1024;

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    // ENOTDIR: a file further up; walking up finds and names it
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw asOutputError(err, path);
  }
}

function asOutputError(err: unknown, path: string): unknown {
  const p = fsErrorParts(err);
  return p ? new OutputError(path, p.cause) : err;
}

/** Write and remove a probe file in the existing folder `dir`; `target` is named on failure. */
async function probeWrite(dir: string, target: string): Promise<void> {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const probe = `${dir}/.tedloc-write-probe-${Deno.pid}-${rand}`;
  try {
    await Deno.writeFile(probe, new Uint8Array(PROBE_BYTES));
  } catch (err) {
    await Deno.remove(probe).catch(() => {});
    throw asOutputError(err, target);
  }
  await Deno.remove(probe).catch(() => {});
}

/** The nearest existing ancestor of `path` (itself when it exists), checked to be a folder. */
async function existingFolderFor(path: string, target: string): Promise<string> {
  let p = resolve(path);
  for (;;) {
    const st = await statOrNull(p);
    if (st) {
      if (!st.isDirectory) {
        throw new OutputError(
          target,
          p === resolve(target) ? "it exists and is not a folder" : `${p} is a file, not a folder`,
        );
      }
      return p;
    }
    const up = dirname(p);
    if (up === p) return p;
    p = up;
  }
}

/** Options of {@link checkOutputDir}. */
export interface CheckOutputDirOptions {
  /**
   * The folder is written as a whole through a temporary sibling and a rename
   * (`writeDirAtomic`): its parent must be writable too (default false).
   */
  atomic?: boolean;
}

/**
 * Check at start that folder `dir` can be made (or is already a folder) and written to.
 * Throws an {@link OutputError} (one line: path and cause) otherwise.
 *
 * @example
 * ```ts
 * await checkOutputDir(outDir); // before extraction, cues, training…
 * ```
 */
export async function checkOutputDir(
  dir: string,
  opts: CheckOutputDirOptions = {},
): Promise<void> {
  const at = await existingFolderFor(dir, dir);
  await probeWrite(at, dir);
  if (opts.atomic && at === resolve(dir)) {
    await probeWrite(await existingFolderFor(dirname(resolve(dir)), dir), dir);
  }
}

/**
 * Check at start that file `path` can be written (atomically: a temporary sibling, then a
 * rename): it is not a folder, and its folder can be made and written to.
 *
 * @example
 * ```ts
 * if (jsonOut) await checkOutputFile(jsonOut);
 * ```
 */
export async function checkOutputFile(path: string): Promise<void> {
  const st = await statOrNull(path);
  if (st?.isDirectory) throw new OutputError(path, "it is a folder, expected a file");
  await probeWrite(await existingFolderFor(dirname(resolve(path)), path), path);
}
