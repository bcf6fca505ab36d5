/**
 * Running a task as a user does (a child `deno run`), for exit codes and stderr lines.
 * @module
 */
import sharp from "sharp";
import { projectPath } from "../../lib/util/paths.ts";

/** What a task run gave. */
export interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `tasks/<script>` with `args`. */
export async function runTask(script: string, args: string[]): Promise<TaskRun> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", projectPath("tasks", script), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", CI: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** The single `error: …` line of a failed run (throws when stderr has anything else). */
export function errorLine(r: TaskRun): string {
  const lines = r.stderr.trim().split("\n").filter((l) => !/^\S[^:]*: \d+\/\d+ \(/.test(l));
  if (lines.length !== 1) throw new Error(`expected one stderr line, got:\n${r.stderr}`);
  return lines[0];
}

/** Seeded noise pixels (a busy image: its JPEG has a long scan to cut). */
export function noisePixels(w: number, h: number, seed = 12345): Uint8Array {
  const px = new Uint8Array(w * h * 3);
  let x = seed >>> 0;
  for (let i = 0; i < px.length; i++) px[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return px;
}

/** Write a JPEG of noise; with `truncate`, only its first half (a truncated download). */
export async function writeNoiseJpeg(
  path: string,
  w: number,
  h: number,
  truncate = false,
): Promise<void> {
  const full = await sharp(noisePixels(w, h), { raw: { width: w, height: h, channels: 3 } })
    .jpeg().toBuffer();
  await Deno.writeFile(path, truncate ? full.subarray(0, Math.floor(full.length / 2)) : full);
}
