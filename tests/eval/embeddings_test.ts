import { assert, assertEquals } from "../assert.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import {
  type ImageEmbeddings,
  imageEmbeddings,
  nearestNeighbourAgreement,
} from "../../lib/eval/embeddings.ts";
import { makeSyntheticTokens } from "../../lib/train/synthetic.ts";
import { trainTedLoc } from "../../lib/train/trainer.ts";

Deno.test("nearestNeighbourAgreement: 1 for separate clusters, 0 when every neighbour is another class", () => {
  const e = (vectors: number[], labels: number[]): ImageEmbeddings => ({
    ids: labels.map(String),
    labels: Int32Array.from(labels),
    vectors: Float32Array.from(vectors),
    count: labels.length,
    dim: 2,
  });
  assertEquals(nearestNeighbourAgreement(e([1, 0, 0.99, 0.14, 0, 1, 0.14, 0.99], [0, 0, 1, 1])), 1);
  assertEquals(nearestNeighbourAgreement(e([1, 0, 0.99, 0.14, 0, 1, 0.14, 0.99], [0, 1, 0, 1])), 0);
});

Deno.test("imageEmbeddings: unit rows of the pooled c, one per image, labels from the metadata; training separates classes", async () => {
  await initBackend("wasm");
  const s = makeSyntheticTokens({ numClasses: 4, imagesPerClass: 12, seed: 3, noise: 0.2 });
  const inputs = {
    features: s.features,
    labels: s.labels,
    cues: s.objectnessCues,
    anchors: s.anchors,
  };
  const cfg = { batchSize: 8, model: { decoder: { hidden: 16 } }, optimizer: { lr: 5e-3 } };
  const untrained = await trainTedLoc(inputs, { ...cfg, epochs: 1, optimizer: { lr: 1e-9 } }, {
    progress: false,
  });
  const before = nearestNeighbourAgreement(
    await imageEmbeddings(untrained.model, s.features, s.metadata),
  );
  untrained.model.dispose();
  const { model } = await trainTedLoc(inputs, { ...cfg, epochs: 25 }, { progress: false });
  const e = await imageEmbeddings(model, s.features, s.metadata, { batchSize: 7 });
  assertEquals([e.count, e.dim], [s.features.ids.length, model.config.embedDim]);
  for (let i = 0; i < e.count; i++) {
    let n = 0;
    for (let k = 0; k < e.dim; k++) n += e.vectors[i * e.dim + k] ** 2;
    assert(Math.abs(n - 1) < 1e-4, `row ${i} has norm² ${n}`);
  }
  assertEquals(Array.from(e.labels), Array.from(s.labels));
  const after = nearestNeighbourAgreement(e);
  assert(after > 0.8 && after > before, `trained embeddings group by class: ${before} → ${after}`);
  model.dispose();
});
