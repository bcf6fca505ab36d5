/**
 * One error type for bad input, so every task can print a single clear line that names
 * the file and line at fault, and tests can assert on that location.
 *
 * @module
 */

/** Where in an input a problem was found. */
export interface InputLocation {
  /** The file (or directory) that holds the bad input. */
  file?: string;
  /** 1-based line number inside `file`, when the input is line oriented. */
  line?: number;
}

/**
 * Bad input from a user-supplied file or argument. Its message reads
 * `file:line: what is wrong` (location parts omitted when unknown).
 *
 * @example
 * ```ts
 * throw new InputError("expected 5 fields, got 3", { file: "localization.txt", line: 12 });
 * // message: "localization.txt:12: expected 5 fields, got 3"
 * ```
 */
export class InputError extends Error {
  /** The file at fault, if known. */
  readonly file?: string;
  /** The 1-based line at fault, if known. */
  readonly line?: number;
  /** The problem alone, without the location prefix. */
  readonly reason: string;

  constructor(reason: string, where: InputLocation = {}) {
    const prefix = where.file === undefined
      ? ""
      : where.line === undefined
      ? `${where.file}: `
      : `${where.file}:${where.line}: `;
    super(prefix + reason);
    this.name = "InputError";
    this.file = where.file;
    this.line = where.line;
    this.reason = reason;
  }
}

/**
 * Read a user-supplied file; a missing file becomes `InputError("file not found")` naming it
 * (other I/O errors pass through).
 *
 * @example
 * ```ts
 * const bytes = await readInputFile("scoremaps/x.npy");
 * ```
 */
export async function readInputFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new InputError("file not found", { file: path });
    throw err;
  }
}

/** {@link readInputFile} decoded as UTF-8 text. */
export async function readInputText(path: string): Promise<string> {
  return new TextDecoder().decode(await readInputFile(path));
}
