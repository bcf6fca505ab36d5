/**
 * Atomic writes: data goes to a temporary sibling first and is renamed into place, so a
 * crash or a failed validation never leaves a half-written output behind. Temporaries are
 * registered with lib/util/interrupt.ts, so Ctrl-C (even a second, immediate one) removes them.
 *
 * @module
 */
import { dirname } from "node:path";
import { registerTempPath } from "../util/interrupt.ts";

function tempSibling(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${path}.tmp-${Deno.pid}-${rand}`;
}

/**
 * Write bytes to `path` atomically (temp file in the same folder, then rename).
 * Parent folders are created.
 *
 * @example
 * ```ts
 * await writeFileAtomic("out/map.npy", bytes);
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  const forget = registerTempPath(tmp);
  try {
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
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
  await Deno.mkdir(dirname(dir), { recursive: true });
  const tmp = tempSibling(dir);
  const forget = registerTempPath(tmp);
  try {
    await Deno.mkdir(tmp, { recursive: true });
    await fill(tmp);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    forget();
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
      throw err;
    }
  }
  await Deno.rename(tmp, dir);
  forget();
  if (moved) await Deno.remove(old, { recursive: true });
}
