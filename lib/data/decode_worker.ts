/**
 * Worker side of {@link ImageDecoderPool}: decode + view on a second core, so the main
 * thread (tfjs wasm runs there) only copies finished 224×224 buffers.
 *
 * Message in: `{ job, path, view }`; out: `{ job, pixels }` (buffer transferred) or
 * `{ job, error, file?, input }`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { InputError } from "../io/errors.ts";
import { type ImageViewParams, loadImageView } from "./image.ts";

self.onmessage = async (e: MessageEvent<{ job: number; path: string; view: ImageViewParams }>) => {
  const { job, path, view } = e.data;
  try {
    const pixels = await loadImageView(path, view);
    self.postMessage({ job, pixels }, [pixels.buffer as ArrayBuffer]);
  } catch (err) {
    const input = err instanceof InputError;
    self.postMessage({
      job,
      error: input ? err.reason : String((err as Error)?.message ?? err),
      file: input ? err.file : undefined,
      input,
    });
  }
};
