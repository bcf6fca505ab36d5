/**
 * A notebook's code as one TypeScript module, so `deno check` can type-check notebooks
 * (it cannot check `.ipynb` files directly).
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { InputError } from "../io/errors.ts";

/**
 * The code cells of a notebook joined into one module (a `// cell N` line before each).
 * With `absoluteImports`, relative import specifiers (`../lib/mod.ts`) become file URLs
 * so the module can be checked from another folder.
 *
 * @example
 * ```ts
 * const ts = await notebookToTypeScript("notebooks/00_quickstart.ipynb", { absoluteImports: true });
 * await Deno.writeTextFile("/tmp/nb.ts", ts); // then: deno check --config deno.json /tmp/nb.ts
 * ```
 */
export async function notebookToTypeScript(
  path: string,
  opts: { absoluteImports?: boolean } = {},
): Promise<string> {
  let nb: { cells?: { cell_type: string; source: string | string[] }[] };
  try {
    nb = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new InputError("notebook not found", { file: path });
    }
    throw new InputError(`not a notebook: ${(err as Error).message}`, { file: path });
  }
  const base = dirname(resolve(path));
  const parts: string[] = [];
  (nb.cells ?? []).forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    let source = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    if (opts.absoluteImports) {
      source = source.replace(
        /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"']+)\2/g,
        (_m, lead, quote, spec) =>
          `${lead}${quote}${pathToFileURL(resolve(base, spec)).href}${quote}`,
      );
    }
    parts.push(`// cell ${i}\n${source}\n`);
  });
  return parts.join("\n");
}
