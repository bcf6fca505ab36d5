/**
 * Worker side of {@link runExtraction}: rebuilds the model from the task's spec on its own
 * tfjs backend, processes its part of the image list and posts each batch back (buffers
 * transferred, not copied).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { initBackend } from "../backend/backend.ts";
import type { BackendName } from "../backend/backend.ts";
import { loadClassifier, loadEncoder } from "../model/load_encoder.ts";
import { type LoadedTask, processImageList, type WorkerJob, type WorkerReply } from "./extract.ts";

async function load(job: WorkerJob): Promise<LoadedTask> {
  const t = job.task;
  if (t.kind === "cam") {
    return {
      kind: "cam",
      classifier: await loadClassifier(t.classifier),
      topK: t.topK,
      target: t.target,
    };
  }
  return { kind: t.kind, encoder: await loadEncoder(t.encoder) };
}

function reply(m: WorkerReply, transfer: Transferable[] = []): void {
  self.postMessage(m, transfer);
}

self.onmessage = async (ev: MessageEvent<WorkerJob>) => {
  const job = ev.data;
  try {
    await initBackend(job.backend as BackendName);
    const task = await load(job);
    try {
      await processImageList(
        task,
        job.imageRoot,
        job.ids,
        job.views,
        job.batchSize,
        job.inputSize,
        (result) => {
          const transfer: Transferable[] = [result.values.buffer as ArrayBuffer];
          if (result.topClasses) transfer.push(result.topClasses.buffer as ArrayBuffer);
          if (result.topProbs) transfer.push(result.topProbs.buffer as ArrayBuffer);
          reply({ type: "batch", result }, transfer);
        },
      );
    } finally {
      if (task.kind === "cam") task.classifier.dispose();
      else task.encoder.dispose();
    }
    reply({ type: "done" });
  } catch (err) {
    const e = err as Error;
    reply({ type: "error", message: e.message ?? String(err), name: e.name ?? "Error" });
  }
};
