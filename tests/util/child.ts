/**
 * Spawning a task-like child process in tests and waiting for a line it prints.
 * @module
 */

/** A running child with its stdout lines so far. */
export interface Child {
  proc: Deno.ChildProcess;
  /** Resolves with the first stdout line starting with `prefix`. */
  waitFor(prefix: string, timeoutMs?: number): Promise<string>;
  /** Exit status and the whole stderr. */
  finish(): Promise<{ code: number; stderr: string; stdout: string }>;
}

/** Start `deno run -A <script> ...args` with piped output. */
export function spawnDeno(script: string | URL, args: string[] = []): Child {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", String(script), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stdout = "";
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  const reading = (async () => {
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += chunk;
      const parts = stdout.split("\n");
      for (const l of parts.slice(lines.length, -1)) {
        lines.push(l);
        for (const w of [...waiters]) {
          if (l.startsWith(w.prefix)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(l);
          }
        }
      }
    }
  })();
  const stderrText = new Response(proc.stderr).text();
  return {
    proc,
    waitFor(prefix, timeoutMs = 60_000) {
      const seen = lines.find((l) => l.startsWith(prefix));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no '${prefix}' line in time`)), timeoutMs);
        waiters.push({
          prefix,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
      });
    },
    async finish() {
      const status = await proc.status;
      await reading;
      return { code: status.code, stderr: await stderrText, stdout };
    },
  };
}
