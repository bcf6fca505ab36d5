/**
 * Atomic writes: data goes to a temporary sibling first and is renamed into place, so a
 * crash or a failed validation never leaves a half-written output behind. Temporaries are
 * registered with lib/util/interrupt.ts, so Ctrl-C (even a second, immediate one) removes them.
 *
 * @module
 */
import { dirname } from "node:path";
import { registerTempPath } from "../util/interrupt.ts";
import { fsErrorParts, OutputError } from "./errors.ts";

/**
 * A file-system error while writing `target` as an {@link OutputError} naming `target` (not
 * the temporary it went to) and the cause, e.g. ENOSPC; other errors unchanged.
 */
function asOutputError(err: unknown, target: string): unknown {
  if (err instanceof OutputError) return err;
  const p = fsErrorParts(err);
  return p ? new OutputError(target, p.cause) : err;
}

function tempSibling(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${path}.tmp-${Deno.pid}-${rand}`;
}

/**
 * Write bytes to `path` atomically (temp file in the same folder, then rename).
 * Parent folders are created. A file-system failure (disk full, read-only, a file in the
 * way) is an {@link OutputError} naming `path` and the cause.
 *
 * @example
 * ```ts
 * await writeFileAtomic("out/map.npy", bytes);
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = tempSibling(path);
  const forget = registerTempPath(tmp);
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw asOutputError(err, path);
  } finally {
    forget();
  }
}

/**
 * Write text to `path` atomically (UTF-8).
 *
 * @example
 * ```ts
 * await writeTextAtomic("figures/table.md", "| a | b |\n");
 * ```
 */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(text));
}

/**
 * Remove a temporary folder that a just-stopped writer (a terminated worker's last file) may
 * still be adding to: retry a few times instead of leaving it behind.
 */
async function removeSettled(path: string): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await Deno.remove(path, { recursive: true });
      return;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }
}

/**
 * Fill a directory atomically: `fill` writes into a fresh temporary folder which then
 * replaces `dir` (an existing `dir` is removed only after `fill` succeeded).
 *
 * @example
 * ```ts
 * await writeDirAtomic("runs/scoremaps", async (tmp) => {
 *   await Deno.writeFile(`${tmp}/a.npy`, bytes);
 * });
 * ```
 */
export async function writeDirAtomic(
  dir: string,
  fill: (tmpDir: string) => Promise<void>,
): Promise<void> {
  const tmp = tempSibling(dir);
  const forget = registerTempPath(tmp);
  try {
    await Deno.mkdir(dirname(dir), { recursive: true }).catch((e) => {
      throw asOutputError(e, dir);
    });
    await Deno.mkdir(tmp, { recursive: true }).catch((e) => {
      throw asOutputError(e, dir);
    });
    await fill(tmp);
  } catch (err) {
    await removeSettled(tmp);
    forget();
    // a write failure inside the temporary folder names the file it was meant to become
    const p = fsErrorParts(err);
    if (p?.path?.startsWith(tmp)) throw new OutputError(dir + p.path.slice(tmp.length), p.cause);
    throw err;
  }
  const old = tempSibling(dir) + "-old";
  let moved = false;
  try {
    await Deno.rename(dir, old);
    moved = true;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      forget();
      throw asOutputError(err, dir);
    }
  }
  try {
    await Deno.rename(tmp, dir);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (moved) await Deno.rename(old, dir).catch(() => {}); // put the old folder back
    throw asOutputError(err, dir);
  } finally {
    forget();
  }
  if (moved) await Deno.remove(old, { recursive: true });
}
