/**
 * The one training loop of the project, shared by TeD-Loc and the CAM baseline: epochs of
 * shuffled steps over cached frozen tokens (read per batch through the feature set's token
 * source: memory, cache files or the encoder itself), a random view per image per step (the head
 * learns which views are flipped, e.g. to mirror its cue map), the optimizer step under the
 * learning-rate schedule, a progress bar, an abort signal, per-epoch checkpoints that resume
 * bit for bit, and a divergence stop.
 *
 * A head brings its parameters and a loss; everything random comes from one seeded
 * {@link Rng} in a fixed order (per epoch: the shuffle; per step: one view per image, then
 * whatever the head's `prepare` draws), so a seed fixes the run.
 *
 * Reads from the device are asynchronous and batched: each step leaves its loss terms and
 * its number of correct predictions on the device, and they are read (`await t.data()`)
 * once per `logEvery` steps and at the end of each epoch — the same code runs on wasm, cpu
 * and webgpu (whose synchronous readback does not work under Deno).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { InputError } from "../io/errors.ts";
import { Rng } from "../util/rng.ts";
import { Progress, type ProgressOptions } from "../util/progress.ts";
import type { FeatureSet } from "../model/encoder.ts";
import type { NamedWeights } from "../model/units.ts";
import { readFeatureTokensByView } from "../model/token_source.ts";
import { learningRate, Optimizer, type OptimizerConfig, type ScheduleConfig } from "./optim.ts";

/** One step's images, as the loop drew them. */
export interface FitBatch {
  /** Positions in the training list (indices into `FitData.rows`). */
  items: number[];
  /** Feature rows (indices into `features.ids`). */
  rows: number[];
  /** View index of each image (into `features.views`). */
  views: number[];
  /** Whether each image's view is a horizontal flip (its cue map must be mirrored). */
  flipped: boolean[];
  /** Class label of each image. */
  labels: Int32Array;
}

/** What a head's loss returns inside the gradient tape. */
export interface StepLoss {
  /** The scalar that is minimised. */
  total: tf.Scalar;
  /** Extra scalars reported per epoch, in the order of `FitHead.termNames`. */
  terms: tf.Scalar[];
  /** Class scores `[B, C]` (train accuracy = argmax against the labels). */
  scores: tf.Tensor2D;
}

/** A trainable head as the loop sees it. */
export interface FitHead<P = unknown> {
  /** Trainable variables by parameter name (checkpoint keys). */
  params: Map<string, tf.Variable>;
  /** Names of `StepLoss.terms` (epoch records get one field each). */
  termNames: string[];
  /** Host-side preparation of a batch after its views were drawn (may draw from `rng`). */
  prepare?(batch: FitBatch, rng: Rng): P;
  /** The loss of a batch (called inside the gradient tape; tensors made here are freed). */
  loss(tokens: tf.Tensor3D, labels: tf.Tensor1D, prepared: P, batch: FitBatch): StepLoss;
  getWeights(): Promise<NamedWeights>;
  setWeights(weights: NamedWeights, source: string): void;
}

/** The tokens a run trains on. */
export interface FitData {
  features: FeatureSet;
  /** Class label of every feature row (aligned with `features.ids`). */
  labels: ArrayLike<number>;
  /** Feature rows to train on. */
  rows: number[];
}

/** One epoch's record: mean loss, one mean per loss term, train accuracy, last lr, time. */
export interface FitRecord {
  epoch: number;
  loss: number;
  trainAcc: number;
  lr: number;
  seconds: number;
  [term: string]: number;
}

/** The loop's resumable state (besides weights and optimizer slots). */
export interface FitState<R extends FitRecord = FitRecord> {
  /** Epochs finished. */
  epoch: number;
  /** Steps done (the schedule's position). */
  step: number;
  optimizerStep: number;
  rngState: number;
  history: R[];
}

/** A saved state with the weights and the optimizer's moments. */
export interface FitSnapshot<R extends FitRecord = FitRecord> extends FitState<R> {
  weights: NamedWeights;
  optimizerState: NamedWeights;
}

/** Where checkpoints go (the head's caller decides the format). */
export interface FitCheckpoint<R extends FitRecord = FitRecord> {
  /** Named in messages (e.g. the file). */
  where: string;
  /** The state to resume from, or null to start fresh. */
  load(): Promise<FitSnapshot<R> | null>;
  /** Persist the state after an epoch. */
  save(snapshot: FitSnapshot<R>): Promise<void>;
}

/** Settings of a {@link fit} run. */
export interface FitOptions<R extends FitRecord = FitRecord> {
  epochs: number;
  batchSize: number;
  /** Seed of the loop's {@link Rng}. */
  seed: number;
  /** Draw a random view per image per step (else always the plain `test` view). */
  randomViews: boolean;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  checkpoint?: FitCheckpoint<R>;
  /** Stop after this many epochs in this call (simulates an interruption). */
  stopAfterEpochs?: number;
  /** Abort between steps; the last finished epoch's checkpoint stays valid. */
  signal?: AbortSignal;
  /** Progress bar title (default `train`). */
  title?: string;
  progress?: ProgressOptions | false;
  /** Read the loss from the device every this many steps (default 20) and at epoch ends. */
  logEvery?: number;
  /** Extra per-epoch metrics merged into the record (e.g. held-out accuracy). */
  onEpochEnd?: (epoch: number) => Promise<Record<string, number>> | Record<string, number>;
  /** Called after each step with the step count (tests watch tensor counts with it). */
  onStep?: (step: number) => void;
}

/** What {@link fit} returns. */
export interface FitResult<R extends FitRecord = FitRecord> {
  history: R[];
  /** Epochs finished (== epochs unless stopped early). */
  epochsDone: number;
  /** Epoch the run resumed from (0 when fresh). */
  resumedFrom: number;
  /** Mean seconds of one optimisation step (including the batched loss reads). */
  secondsPerStep: number;
}

/** The loss became NaN or ±∞; names where, and which checkpoint is still good. */
export class DivergenceError extends Error {
  constructor(
    readonly epoch: number,
    readonly stepInEpoch: number,
    readonly loss: number,
    lastGood: string | null,
  ) {
    super(
      `training diverged at epoch ${epoch} step ${stepInEpoch}: loss ${loss} (lower the learning rate?)` +
        (lastGood ? `; ${lastGood}` : ""),
    );
    this.name = "DivergenceError";
  }
}

/**
 * Per-step metrics kept on the device (`[steps, 2 + terms]`: loss, terms…, correct) until
 * one read folds them into host sums in step order — the same float64 sums as reading each
 * step as it finished, so epoch records do not depend on how often the device is read.
 */
class EpochMetrics {
  private pending: tf.Tensor2D | null = null;
  private sizes: number[] = [];
  private firstStep = 0;
  readonly sums: number[];
  n = 0;
  correct = 0;

  constructor(private readonly epoch: number, private readonly terms: number) {
    this.sums = new Array(1 + terms).fill(0);
  }

  /** Append one step's row `[1, 2 + terms]` (takes ownership). */
  push(row: tf.Tensor2D, size: number): void {
    const prev = this.pending;
    this.pending = prev ? tf.concat([prev, row]) as tf.Tensor2D : row;
    if (prev) tf.dispose([prev, row]);
    this.sizes.push(size);
  }

  /** Read the pending rows (one read) and fold them in; throws on a non-finite loss. */
  async drain(lastGood: () => string | null): Promise<void> {
    if (!this.pending) return;
    const t = this.pending;
    this.pending = null;
    const v = await t.data();
    t.dispose();
    const K = 2 + this.terms;
    this.sizes.forEach((B, j) => {
      const loss = v[j * K];
      if (!Number.isFinite(loss)) {
        throw new DivergenceError(this.epoch, this.firstStep + j + 1, loss, lastGood());
      }
      for (let k = 0; k <= this.terms; k++) this.sums[k] += v[j * K + k] * B;
      this.correct += v[j * K + K - 1];
      this.n += B;
    });
    this.firstStep += this.sizes.length;
    this.sizes = [];
  }

  dispose(): void {
    this.pending?.dispose();
    this.pending = null;
  }
}

/** Draw one batch: a view per image (one `rng.int` each, in batch order). */
function drawBatch(data: FitData, items: number[], rng: Rng, randomViews: boolean): FitBatch {
  const f = data.features;
  const plainView = Math.max(0, f.views.indexOf("test"));
  const rows = items.map((k) => data.rows[k]);
  const views = items.map(() =>
    randomViews && f.views.length > 1 ? rng.int(f.views.length) : plainView
  );
  return {
    items,
    rows,
    views,
    flipped: views.map((v) => /flip/i.test(f.views[v])),
    labels: Int32Array.from(rows, (r) => data.labels[r]),
  };
}

/** One optimisation step; returns the metrics row `[1, 2 + terms]` (still on the device). */
function step<P>(
  head: FitHead<P>,
  optimizer: Optimizer,
  f: FeatureSet,
  tokens: Float32Array,
  batch: FitBatch,
  prepared: P,
  lr: number,
): tf.Tensor2D {
  const B = batch.rows.length, N = f.grid[0] * f.grid[1];
  const x = tf.tensor3d(tokens, [B, N, f.dim]);
  const y = tf.tensor1d(batch.labels, "int32");
  const vars = [...head.params.values()];
  const nameOf = new Map([...head.params].map(([n, v]) => [v.name, n]));
  let kept: tf.Tensor[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const L = head.loss(x, y, prepared, batch);
    kept = [...L.terms, tf.argMax(L.scores, 1)].map((t) => tf.keep(t));
    return L.total;
  }, vars);
  optimizer.apply(new Map(Object.entries(grads).map(([n, g]) => [nameOf.get(n)!, g])), lr);
  // the metrics row off the gradient tape: loss, terms…, number of correct predictions
  const row = tf.tidy(() => {
    const pred = kept[kept.length - 1];
    const correct = tf.sum(tf.cast(tf.equal(pred, y), "float32"));
    return tf.stack([value, ...kept.slice(0, -1), correct]).reshape([1, -1]) as tf.Tensor2D;
  });
  tf.dispose([x, y, value, ...Object.values(grads), ...kept]);
  return row;
}

/**
 * Train `head` on `data`. The loop owns the optimizer (disposed at the end), the head keeps
 * its weights.
 *
 * @example
 * ```ts
 * const r = await fit(head, { features, labels, rows }, { epochs: 10, batchSize: 32, seed: 0,
 *   randomViews: true, optimizer: DEFAULT_OPTIMIZER, schedule: DEFAULT_SCHEDULE });
 * ```
 */
export async function fit<P, R extends FitRecord = FitRecord>(
  head: FitHead<P>,
  data: FitData,
  o: FitOptions<R>,
): Promise<FitResult<R>> {
  for (const [k, v] of [["epochs", o.epochs], ["batchSize", o.batchSize]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new InputError(`fit: ${k} must be a positive integer, got ${v}`);
    }
  }
  if (data.rows.length === 0) throw new InputError("fit: no training images");
  const optimizer = new Optimizer(head.params, o.optimizer);
  const rng = new Rng(o.seed);
  const run = { epoch: 0, step: 0, history: [] as R[], saved: 0 };
  try {
    const resumedFrom = await resume(head, optimizer, rng, run, o.checkpoint);
    const stepsPerEpoch = Math.ceil(data.rows.length / o.batchSize);
    const stopAt = Math.min(o.epochs, resumedFrom + (o.stopAfterEpochs ?? Infinity));
    const bar = o.progress === false ? null : new Progress(
      o.title ?? "train",
      (stopAt - resumedFrom) * stepsPerEpoch,
      { unit: "step", ...(o.progress ?? {}) },
    );
    let seconds = 0, steps = 0;
    try {
      for (let epoch = resumedFrom; epoch < stopAt; epoch++) {
        const t0 = performance.now();
        const r = await runEpoch(head, optimizer, rng, data, o, run, epoch, stepsPerEpoch, bar);
        if (r === null) break; // aborted
        seconds += (performance.now() - t0) / 1000;
        steps += stepsPerEpoch;
        const rec = r as R;
        if (o.onEpochEnd) Object.assign(rec, await o.onEpochEnd(epoch + 1));
        run.history.push(rec);
        run.epoch = epoch + 1;
        await save(head, optimizer, rng, run, o.checkpoint);
      }
    } finally {
      bar?.done();
    }
    return {
      history: run.history,
      epochsDone: run.epoch,
      resumedFrom,
      secondsPerStep: steps > 0 ? seconds / steps : 0,
    };
  } finally {
    optimizer.dispose();
  }
}

type RunState<R> = { epoch: number; step: number; history: R[]; saved: number };

async function resume<P, R extends FitRecord>(
  head: FitHead<P>,
  optimizer: Optimizer,
  rng: Rng,
  run: RunState<R>,
  ck: FitCheckpoint<R> | undefined,
): Promise<number> {
  const s = ck ? await ck.load() : null;
  if (!s || !ck) return 0;
  head.setWeights(s.weights, ck.where);
  optimizer.loadState(s.optimizerState, s.optimizerStep, ck.where);
  rng.state = s.rngState;
  Object.assign(run, { epoch: s.epoch, step: s.step, history: s.history, saved: s.epoch });
  return s.epoch;
}

async function save<P, R extends FitRecord>(
  head: FitHead<P>,
  optimizer: Optimizer,
  rng: Rng,
  run: RunState<R>,
  ck: FitCheckpoint<R> | undefined,
): Promise<void> {
  if (!ck) return;
  const [weights, optimizerState] = await Promise.all([head.getWeights(), optimizer.state()]);
  await ck.save({
    epoch: run.epoch,
    step: run.step,
    optimizerStep: optimizer.stepCount,
    rngState: rng.state,
    history: run.history,
    weights,
    optimizerState,
  });
  run.saved = run.epoch;
}

/** One epoch; its record, or null when aborted. */
async function runEpoch<P, R extends FitRecord>(
  head: FitHead<P>,
  optimizer: Optimizer,
  rng: Rng,
  data: FitData,
  o: FitOptions<R>,
  run: RunState<R>,
  epoch: number,
  stepsPerEpoch: number,
  bar: Progress | null,
): Promise<FitRecord | null> {
  const t0 = performance.now();
  const totalSteps = stepsPerEpoch * o.epochs, logEvery = o.logEvery ?? 20;
  const m = new EpochMetrics(epoch + 1, head.termNames.length);
  const lastGood = () =>
    o.checkpoint && run.saved > 0
      ? `the last good checkpoint (epoch ${run.saved}) is kept in ${o.checkpoint.where}`
      : null;
  const order = rng.shuffle(data.rows.map((_, i) => i));
  let lr = 0;
  try {
    for (let b = 0; b < stepsPerEpoch; b++) {
      if (o.signal?.aborted) return null;
      const items = order.slice(b * o.batchSize, (b + 1) * o.batchSize);
      const batch = drawBatch(data, items, rng, o.randomViews);
      const prepared = head.prepare ? head.prepare(batch, rng) : (undefined as P);
      lr = learningRate(o.optimizer, o.schedule, run.step, totalSteps, stepsPerEpoch);
      // read per batch: from memory, the cache files, or the encoder (never a whole split)
      const tokens = await readFeatureTokensByView(data.features, batch.rows, batch.views);
      m.push(step(head, optimizer, data.features, tokens, batch, prepared, lr), items.length);
      run.step++;
      o.onStep?.(run.step);
      if ((b + 1) % logEvery === 0) await m.drain(lastGood);
      const loss = m.n > 0 ? ` loss ${(m.sums[0] / m.n).toFixed(4)}` : "";
      bar?.tick(1, `epoch ${epoch + 1}/${o.epochs}${loss} lr ${lr.toExponential(2)}`);
    }
    if (o.signal?.aborted) return null;
    await m.drain(lastGood);
  } finally {
    m.dispose();
  }
  // field order of the records (and of metrics.jsonl): epoch, loss, terms…, trainAcc, lr, seconds
  const rec = { epoch: epoch + 1, loss: m.sums[0] / m.n } as FitRecord;
  head.termNames.forEach((name, k) => rec[name] = m.sums[k + 1] / m.n);
  rec.trainAcc = m.correct / m.n;
  rec.lr = lr;
  rec.seconds = (performance.now() - t0) / 1000;
  return rec;
}
