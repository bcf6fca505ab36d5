/**
 * Optimizers (Adam/AdamW, SGD with momentum) and learning-rate schedules, written out
 * instead of using tf.train's so that their whole state is a list of named arrays that a
 * checkpoint stores and restores exactly (resume gives bit-identical results).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type NamedWeights, readNamed } from "../model/units.ts";
import type { OptimizerSection, ScheduleSection } from "../config/schema.ts";

/** Optimizer settings (the run config's `optimizer` section, documented there). */
export type OptimizerConfig = OptimizerSection;

/** Learning-rate schedule, per step; epochs converted with the steps per epoch (the run config's `schedule`). */
export type ScheduleConfig = ScheduleSection;

/** Adam, lr 1e-3, no weight decay; cosine decay to 1 % with half an epoch of warm-up (lib/config/schema.ts). */
export { DEFAULT_OPTIMIZER, DEFAULT_SCHEDULE } from "../config/schema.ts";

/**
 * Learning rate at step `step` (0-based) of `totalSteps`.
 *
 * @example
 * ```ts
 * learningRate(DEFAULT_OPTIMIZER, DEFAULT_SCHEDULE, 10, 100, 10);
 * ```
 */
export function learningRate(
  opt: OptimizerConfig,
  s: ScheduleConfig,
  step: number,
  totalSteps: number,
  stepsPerEpoch: number,
): number {
  const warm = Math.round(s.warmupEpochs * stepsPerEpoch);
  if (step < warm) return (opt.lr * (step + 1)) / warm;
  switch (s.kind) {
    case "constant":
      return opt.lr;
    case "step":
      return opt.lr * Math.pow(s.gamma, Math.floor(step / (s.stepEpochs * stepsPerEpoch)));
    case "cosine": {
      const span = Math.max(1, totalSteps - warm);
      const t = Math.min(1, (step - warm) / span);
      const min = opt.lr * s.minLrRatio;
      return min + 0.5 * (opt.lr - min) * (1 + Math.cos(Math.PI * t));
    }
    default:
      throw new Error(`unknown schedule '${(s as ScheduleConfig).kind}'`);
  }
}

/**
 * A first-order optimizer over named variables. `state()`/`loadState()` give and take its
 * moment estimates as named arrays (`m.<param>`, `v.<param>` or `momentum.<param>`).
 *
 * @example
 * ```ts
 * const opt = new Optimizer(model.params, DEFAULT_OPTIMIZER);
 * opt.apply(gradsByParamName, 1e-3);
 * ```
 */
export class Optimizer {
  readonly config: OptimizerConfig;
  /** Updates applied so far (Adam's bias correction uses it). */
  stepCount = 0;
  private readonly vars: Map<string, tf.Variable>;
  private readonly slots = new Map<string, tf.Variable>();

  constructor(vars: Map<string, tf.Variable>, config: OptimizerConfig) {
    if (config.kind !== "adam" && config.kind !== "sgd") {
      throw new Error(`unknown optimizer '${config.kind}': use adam or sgd`);
    }
    this.vars = vars;
    this.config = config;
    const names = config.kind === "adam" ? ["m", "v"] : ["momentum"];
    for (const [name, v] of vars) {
      for (const s of names) {
        const zeros = tf.zerosLike(v);
        this.slots.set(`${s}.${name}`, tf.variable(zeros, false));
        zeros.dispose();
      }
    }
  }

  /** One update with gradients keyed by parameter name (missing gradients: parameter skipped). */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.stepCount++;
    const c = this.config, t = this.stepCount;
    tf.tidy(() => {
      for (const [name, p] of this.vars) {
        const g = grads.get(name);
        if (!g) continue;
        if (c.kind === "adam") {
          const m = this.slots.get(`m.${name}`)!, v = this.slots.get(`v.${name}`)!;
          m.assign(tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1)));
          v.assign(tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g), 1 - c.beta2)));
          const mhat = tf.div(m, 1 - Math.pow(c.beta1, t));
          const vhat = tf.div(v, 1 - Math.pow(c.beta2, t));
          let upd = tf.div(mhat, tf.add(tf.sqrt(vhat), c.eps));
          if (c.weightDecay > 0) upd = tf.add(upd, tf.mul(p, c.weightDecay));
          p.assign(tf.sub(p, tf.mul(upd, lr)));
        } else {
          const buf = this.slots.get(`momentum.${name}`)!;
          const gd = c.weightDecay > 0 ? tf.add(g, tf.mul(p, c.weightDecay)) : g;
          buf.assign(tf.add(tf.mul(buf, c.momentum), gd));
          p.assign(tf.sub(p, tf.mul(buf, lr)));
        }
      }
    });
  }

  /** Moment estimates as named arrays (read asynchronously, all at once). */
  async state(): Promise<NamedWeights> {
    return await readNamed(this.slots);
  }

  /** Restore moment estimates (all slots must be present with the right sizes). */
  loadState(
    state: NamedWeights,
    stepCount: number,
    source = "optimizer state",
  ): void {
    for (const [n, v] of this.slots) {
      const s = state[n];
      if (!s) throw new Error(`${source}: missing optimizer slot '${n}'`);
      if (s.data.length !== v.size) {
        throw new Error(
          `${source}: optimizer slot '${n}' has ${s.data.length} values, expected ${v.size}`,
        );
      }
      tf.tidy(() => v.assign(tf.tensor(s.data, v.shape)));
    }
    this.stepCount = stepCount;
  }

  /** Free the moment estimates. */
  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
  }
}
