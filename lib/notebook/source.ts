/**
 * A notebook's code as one TypeScript module, so `deno check` can type-check notebooks
 * (it cannot check `.ipynb` files directly).
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { InputError } from "../io/errors.ts";

/** One cell of an `.ipynb` file (the fields tedloc reads). */
export interface IpynbCell {
  cell_type: string;
  source: string | string[];
  outputs?: { output_type: string; ename?: string; evalue?: string }[];
  execution_count?: number | null;
  metadata?: { tags?: string[] };
}

/**
 * Parse an `.ipynb` file. A missing file or one that is not JSON is an `InputError` naming it.
 *
 * @example
 * ```ts
 * const nb = await readIpynb("notebooks/00_quickstart.ipynb");
 * console.log(nb.cells?.length);
 * ```
 */
export async function readIpynb(path: string): Promise<{ cells?: IpynbCell[] }> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new InputError("notebook not found", { file: path });
    }
    throw new InputError(`not a notebook: ${(err as Error).message}`, { file: path });
  }
}

/** A cell's source as one string (`.ipynb` stores it as a string or a list of lines). */
export function cellSource(cell: Pick<IpynbCell, "source">): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

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
  const nb = await readIpynb(path);
  const base = dirname(resolve(path));
  const parts: string[] = [];
  (nb.cells ?? []).forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    let source = cellSource(cell);
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
