/**
 * One process-wide Ctrl-C (SIGINT) / SIGTERM: long phases stop within about a batch, temp
 * files go, and the task exits 130 (SIGTERM: 143) with a line saying how to resume.
 *
 * `runCli` installs the handler for a task's lifetime. The first signal only raises a flag
 * (and aborts {@link interruptSignal}); work honours it at its next {@link throwIfInterrupted}
 * — `Progress.tick` calls it, so every phase with a progress bar stops within a batch. The
 * unwinding `finally`/`catch` blocks close pools and remove temporary outputs; `runCli` then
 * runs the registered cleanups and exits. A second signal exits at once, after the
 * cleanups (for work stuck in one long step). Without the handler (tests, notebooks,
 * library use) nothing changes: the flag is never raised and a signal kills as usual.
 *
 * @module
 */

/** Raised by {@link throwIfInterrupted} after SIGINT/SIGTERM; `runCli` exits 130 (143). */
export class InterruptedError extends Error {
  /** The signal that asked to stop. */
  readonly signal: string;
  constructor(signal = "SIGINT") {
    super(`interrupted by ${signal}`);
    this.name = "InterruptedError";
    this.signal = signal;
  }
}

/** The exit status for a signal: 128 + its number, as shells report a killed process. */
export function interruptExitCode(signal: string): number {
  return signal === "SIGTERM" ? 143 : 130;
}

let received: string | null = null;
let controller = new AbortController();
let installs = 0;
let nextCleanup = 0;
const cleanups = new Map<number, () => void>();
const DEFAULT_HINT = "nothing was kept; run the same command again to start over";
let hint = DEFAULT_HINT;

/**
 * Raise the interrupt flag as a signal would (the signal handler calls this; tests too). A
 * second call while the handler is installed runs the cleanups and exits at once.
 */
export function requestInterrupt(signal = "SIGINT"): void {
  if (received !== null && installs > 0) {
    runCleanups();
    console.error(`\n${signal} again: stopped at once. ${hint}`);
    Deno.exit(interruptExitCode(received));
  }
  received = signal;
  controller.abort(new InterruptedError(signal));
  if (installs > 0) {
    console.error(`\n${signal}: stopping within a step (press Ctrl-C again to stop at once)`);
  }
}

const onSigint = () => requestInterrupt("SIGINT");
const onSigterm = () => requestInterrupt("SIGTERM");

/**
 * Install the SIGINT/SIGTERM handler (nested installs are counted); returns its uninstall.
 * `runCli` does this for every task.
 *
 * @example
 * ```ts
 * const uninstall = installInterruptHandler();
 * try { await work(); } finally { uninstall(); }
 * ```
 */
export function installInterruptHandler(): () => void {
  if (installs++ === 0) {
    Deno.addSignalListener("SIGINT", onSigint);
    try {
      Deno.addSignalListener("SIGTERM", onSigterm);
    } catch {
      // Windows has no SIGTERM listener; Ctrl-C still works
    }
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--installs === 0) {
      Deno.removeSignalListener("SIGINT", onSigint);
      try {
        Deno.removeSignalListener("SIGTERM", onSigterm);
      } catch {
        // as above
      }
    }
  };
}

/** Whether SIGINT/SIGTERM was received (the signal's name), else null. */
export function interruptedBy(): string | null {
  return received;
}

/**
 * An AbortSignal aborted (with an {@link InterruptedError}) on SIGINT/SIGTERM: pass it to
 * work that takes one (`signal` options, `fetch`).
 */
export function interruptSignal(): AbortSignal {
  return controller.signal;
}

/**
 * Throw an {@link InterruptedError} when an interrupt was received. Cheap: call it once per
 * batch or item of any long loop (`Progress.tick` does).
 *
 * @example
 * ```ts
 * for (const batch of batches) { throwIfInterrupted(); await work(batch); }
 * ```
 */
export function throwIfInterrupted(): void {
  if (received !== null) throw new InterruptedError(received);
}

/**
 * Set what the interrupt message tells the user (how to resume), e.g. `"rerun with --resume
 * to continue from the last epoch"`. Returns a function restoring the previous hint.
 */
export function setResumeHint(text: string): () => void {
  const before = hint;
  hint = text;
  return () => void (hint = before);
}

/** The current resume hint (see {@link setResumeHint}). */
export function resumeHint(): string {
  return hint;
}

/**
 * Register a synchronous cleanup run on interrupt (and on every `runCli` error exit), e.g.
 * removing a temporary file. Returns its unregister function: call it once the temporary
 * thing is gone or renamed into place.
 */
export function registerCleanup(fn: () => void): () => void {
  const id = nextCleanup++;
  cleanups.set(id, fn);
  return () => void cleanups.delete(id);
}

/**
 * Register a temporary file or folder to remove on interrupt or error exit (see
 * {@link registerCleanup}).
 *
 * @example
 * ```ts
 * const forget = registerTempPath(tmp);
 * try { await fill(tmp); await Deno.rename(tmp, out); } finally { forget(); }
 * ```
 */
export function registerTempPath(path: string): () => void {
  return registerCleanup(() => {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch {
      // already gone
    }
  });
}

/** Run (and forget) every registered cleanup, newest first; a failing one does not stop the rest. */
export function runCleanups(): void {
  const fns = [...cleanups.values()].reverse();
  cleanups.clear();
  for (const fn of fns) {
    try {
      fn();
    } catch {
      // best effort: the process is about to exit
    }
  }
}

/** Forget a received interrupt and restore the default hint (tests; a long-lived host). */
export function resetInterrupt(): void {
  received = null;
  controller = new AbortController();
  hint = DEFAULT_HINT;
}
