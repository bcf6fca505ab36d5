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

/**
 * An output that cannot be written (exists as the wrong kind, read-only file system,
 * permission denied, disk full). An {@link InputError} too, so every task prints it as one
 * line `path: cannot write: cause` and exits 1.
 *
 * @example
 * ```ts
 * throw new OutputError("/tmp/f", "it exists and is not a folder");
 * // message: "/tmp/f: cannot write: it exists and is not a folder"
 * ```
 */
export class OutputError extends InputError {
  constructor(path: string, cause: string) {
    super(`cannot write: ${cause}`, { file: path });
    this.name = "OutputError";
  }
}

/** The causes of file-system errors by errno code, in words a user acts on. */
const FS_CAUSES: Record<string, string> = {
  EEXIST: "it already exists",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "it is a folder",
  ENOTEMPTY: "a folder is in the way (not empty)",
  EROFS: "read-only file system (EROFS)",
  EACCES: "permission denied (EACCES)",
  EPERM: "operation not permitted (EPERM)",
  ENOSPC: "no space left on device (ENOSPC)",
  EDQUOT: "disk quota exceeded (EDQUOT)",
  ENOENT: "no such file or folder",
  ENAMETOOLONG: "the name is too long",
  EMFILE: "too many open files",
  EIO: "input/output error (EIO)",
  EXDEV: "cannot move across file systems (EXDEV)",
};

/** errno codes of the `strerror` texts libvips (sharp) puts in its messages. */
const STRERROR_CODES: Record<string, string> = {
  "No space left on device": "ENOSPC",
  "Read-only file system": "EROFS",
  "Permission denied": "EACCES",
  "Operation not permitted": "EPERM",
  "Not a directory": "ENOTDIR",
  "Is a directory": "EISDIR",
  "Disk quota exceeded": "EDQUOT",
  "No such file or directory": "ENOENT",
  "Input/output error": "EIO",
};

/**
 * A libvips (sharp) write failure — `"<path>: unable to open for write\nsystem error:
 * Permission denied…"` or `"<path>: write error\nsystem error: No space left on device…"` —
 * as file-system error parts, or null.
 */
function vipsErrorParts(
  message: string,
): { code: string; cause: string; op: string; path: string } | null {
  const m = /^(.+?): (unable to open for write|write error)\nsystem error: ([^\n]+)/.exec(message);
  const code = m ? STRERROR_CODES[m[3]] : undefined;
  if (!m || !code) return null;
  return { code, cause: FS_CAUSES[code] ?? m[3].toLowerCase(), op: "write", path: m[1] };
}

/**
 * The parts of a file-system error (Deno's, or a libvips write failure from sharp), or null
 * when `err` is not one.
 */
export function fsErrorParts(
  err: unknown,
): { code: string; cause: string; op?: string; path?: string } | null {
  if (!(err instanceof Error)) return null;
  const vips = vipsErrorParts(err.message ?? "");
  if (vips) return vips;
  const code = (err as { code?: unknown }).code;
  // Deno's messages read "<strerror> (os error N): <op> '<path>'[ -> '<path2>']"
  const m = /\(os error \d+\)(?:: (\w+) '([^']*)')?/.exec(err.message);
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code)) {
    if (!m) return null;
  }
  const c = typeof code === "string" ? code : "";
  const cause = FS_CAUSES[c] ?? err.message.replace(/ \(os error \d+\).*$/, "").toLowerCase();
  return { code: c, cause, op: m?.[1], path: m?.[2] };
}

/**
 * One line for a file-system error: `path: cannot <op>: cause` (null when `err` is not a
 * file-system error). `runCli` prints it instead of a stack trace.
 *
 * @example
 * ```ts
 * describeFsError(err); // "/sys/x: cannot mkdir: operation not permitted (EPERM)"
 * ```
 */
export function describeFsError(err: unknown): string | null {
  const p = fsErrorParts(err);
  if (!p) return null;
  const what = p.op ? `cannot ${p.op}` : "file-system error";
  return p.path ? `${p.path}: ${what}: ${p.cause}` : `${what}: ${p.cause}`;
}
