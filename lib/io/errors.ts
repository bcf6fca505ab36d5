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
