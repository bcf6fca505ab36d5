/**
 * Where things live: the project root, its data folders, and the optional real data
 * (`../shared/data` on development and CI machines, absent on a user's machine).
 *
 * `node:path`/`node:url` are used instead of `jsr:@std/path` because JSR cannot be
 * reached from the project's machines (only the npm registry is).
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of the project root (the folder holding deno.json). */
export const PROJECT_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Resolve a path relative to the project root. */
export function projectPath(...parts: string[]): string {
  return join(PROJECT_ROOT, ...parts);
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * The folder of optional real data (CUB-50, MobileNet, CLIP assets): `$TEDLOC_SHARED_DATA`
 * if set, else `../shared/data` beside the project; `null` when neither exists.
 *
 * @example
 * ```ts
 * const shared = sharedDataDir();
 * if (shared === null) console.log("real data absent: running on the embedded default");
 * ```
 */
export function sharedDataDir(): string | null {
  const env = Deno.env.get("TEDLOC_SHARED_DATA");
  if (env) return isDir(env) ? resolve(env) : null;
  const beside = resolve(PROJECT_ROOT, "..", "shared", "data");
  return isDir(beside) ? beside : null;
}

/**
 * A path inside the shared real data, or `null` (with nothing thrown) when absent.
 * Tests use it to skip with a clear reason.
 */
export function sharedDataPath(...parts: string[]): string | null {
  const root = sharedDataDir();
  if (root === null) return null;
  const p = join(root, ...parts);
  try {
    Deno.statSync(p);
    return p;
  } catch {
    return null;
  }
}
