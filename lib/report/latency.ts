/**
 * Small latency measurements for the complexity notebook: milliseconds per image of a
 * frozen encoder and of a localization head on one tfjs backend (median of a few timed
 * runs after a warm-up; an asynchronous read of the outputs waits for the device, and works on
 * webgpu, where synchronous reads do not).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { PatchEncoder } from "../model/encoder.ts";
import type { LocalizationHead } from "../model/baselines.ts";
import { type BackendName, initBackend } from "../backend/backend.ts";
import { readTensors } from "../backend/read.ts";

/** Options of {@link measureLatency}. */
export interface LatencyOptions {
  /** Images per batch (default 8). */
  batch?: number;
  /** Timed runs; the median is kept (default 3). */
  reps?: number;
  /** Seed of the random input. */
  seed?: number;
}

/** One measurement. */
export interface LatencyResult {
  backend: BackendName;
  /** Encoder ms per image (images 0..255 → tokens). */
  encoderMs: number;
  /** Head ms per image (tokens → scores and map), one entry per head name. */
  headMs: Record<string, number>;
  batch: number;
  reps: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeMs(run: () => tf.Tensor | tf.Tensor[], reps: number): Promise<number> {
  const once = async () => {
    const out = run();
    await readTensors(Array.isArray(out) ? out : [out], { dispose: true });
  };
  await once(); // warm-up: kernel compilation, JIT
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Time an encoder and heads on `backend` (switched with `initBackend`; the previous backend
 * is restored at the end). Weights move to the backend on first use.
 *
 * @example
 * ```ts
 * const r = await measureLatency("wasm", encoder, [tedLocHead(model), cam], { batch: 8 });
 * r.encoderMs + r.headMs.tedloc; // ms per image, end to end
 * ```
 */
export async function measureLatency(
  backend: BackendName,
  encoder: PatchEncoder,
  heads: readonly LocalizationHead[],
  opts: LatencyOptions = {},
): Promise<LatencyResult> {
  const previous = tf.getBackend() as BackendName;
  const batch = opts.batch ?? 8, reps = opts.reps ?? 3;
  await initBackend(backend);
  try {
    const S = encoder.inputSize;
    const images = tf.randomUniform(
      [batch, S, S, 3],
      0,
      255,
      "float32",
      opts.seed ?? 0,
    ) as tf.Tensor4D;
    const encoderMs = await timeMs(() => encoder.encode(images), reps) / batch;
    const tokens = tf.tidy(() => encoder.encode(images));
    const headMs: Record<string, number> = {};
    for (const h of heads) {
      headMs[h.name] = await timeMs(() =>
        tf.tidy(() => {
          const p = h.predict(tokens);
          return [p.scores, p.maps];
        }), reps) / batch;
    }
    tf.dispose([images, tokens]);
    return { backend, encoderMs, headMs, batch, reps };
  } finally {
    await initBackend(previous);
  }
}
