/**
 * Worker side of the synthetic dataset generator: renders and writes a chunk of jobs.
 * Message in: `{ dir, from, jobs, classes, config, seed }`; out: `{ from, results }` or
 * `{ from, error }`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { SyntheticClass, SyntheticConfig } from "./synthetic_classes.ts";
import { type SyntheticJob, writeSyntheticJob } from "./synthetic_jobs.ts";

self.onmessage = async (
  e: MessageEvent<{
    dir: string;
    from: number;
    jobs: SyntheticJob[];
    classes: SyntheticClass[];
    config: SyntheticConfig;
    seed: number;
  }>,
) => {
  const { dir, from, jobs, classes, config, seed } = e.data;
  try {
    const results = await Promise.all(
      jobs.map((job) => writeSyntheticJob(dir, job, classes[job.label], config, seed)),
    );
    self.postMessage({ from, results });
  } catch (err) {
    self.postMessage({ from, error: String((err as Error)?.stack ?? err) });
  }
};
