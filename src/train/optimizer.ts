/**
 * Optimizers for adapter variables, on tf ops (no host sync):
 * - AdamW (decoupled weight decay, PyTorch's torch.optim.AdamW semantics, eps 1e-8);
 * - schedule-free AdamW (Defazio et al., 2024, "The Road Less Scheduled"): the variable holds the
 *   gradient point y; the optimizer keeps z (the SGD-like sequence) and x (its running average,
 *   the point to evaluate). `finish()` writes x into the variables.
 * Global-norm gradient clipping happens before either.
 */
import * as tf from '@tensorflow/tfjs';
import { adamwUpdate } from '../engine/ops.js';

export interface OptimizerOptions {
  kind: 'adamw' | 'schedule_free_adamw';
  betas: [number, number];
  weightDecay: number;
  eps?: number;
  /** Clip the global gradient norm to this value (0 = no clipping). */
  gradClip: number;
}

export interface Optimizer {
  /** One update with learning rate `lr`; grads in the order of the variables given at construction. */
  step(grads: tf.Tensor[], lr: number): void;
  /** Leave the variables at the point to evaluate and free the optimizer's state. */
  finish(): void;
  /** The optimizer's state on the host (for checkpoints), and its restore. */
  exportState(): Promise<OptimizerState>;
  importState(s: OptimizerState): void;
}

export interface OptimizerState {
  t: number;
  extra: number;
  slots: Float32Array[];
}

/** A non-trainable slot variable initialised from `init` (the temporary is freed). */
function slot(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init, false);
  init.dispose();
  return v;
}

async function exportSlots(slots: tf.Variable[]): Promise<Float32Array[]> {
  return Promise.all(slots.map(async (v) => Float32Array.from(await v.data())));
}

function importSlots(slots: tf.Variable[], values: Float32Array[]): void {
  if (values.length !== slots.length) throw new Error(`optimizer state has ${values.length} slots, expected ${slots.length}`);
  slots.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(values[i], v.shape))));
}

/** The factor that scales grads to a global L2 norm of at most `maxNorm` (PyTorch's clip_grad_norm_); undefined when not clipping. */
export function globalNormScale(grads: tf.Tensor[], maxNorm: number): tf.Scalar | undefined {
  if (!(maxNorm > 0)) return undefined;
  return tf.tidy(() => {
    const sq = tf.addN(grads.map((g) => tf.sum(tf.square(g))));
    return tf.minimum(1, tf.div(maxNorm, tf.add(tf.sqrt(sq), 1e-6))) as tf.Scalar;
  });
}

/** Scale grads so that their global L2 norm is at most `maxNorm` (PyTorch's clip_grad_norm_). */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): tf.Tensor[] {
  const scale = globalNormScale(grads, maxNorm);
  if (!scale) return grads;
  const clipped = grads.map((g) => tf.mul(g, scale));
  scale.dispose();
  return clipped;
}

class AdamW implements Optimizer {
  private t = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  constructor(
    private readonly vars: tf.Variable[],
    private readonly o: OptimizerOptions,
    private readonly lrScales?: readonly number[],
  ) {
    this.m = vars.map((p) => slot(tf.zerosLike(p)));
    this.v = vars.map((p) => slot(tf.zerosLike(p)));
  }
  step(rawGrads: tf.Tensor[], lr: number): void {
    const [b1, b2] = this.o.betas;
    const eps = this.o.eps ?? 1e-8;
    this.t += 1;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    tf.tidy(() => {
      const gradScale = globalNormScale(rawGrads, this.o.gradClip);
      const hp = { lr, beta1: b1, beta2: b2, eps, weightDecay: this.o.weightDecay, biasCorrection1: bc1, biasCorrection2: bc2 };
      this.vars.forEach((p, i) => {
        const scale = this.lrScales?.[i] ?? 1;
        const [p2, m2, v2] = adamwUpdate(p, this.m[i], this.v[i], rawGrads[i], scale === 1 ? hp : { ...hp, lr: lr * scale }, gradScale);
        this.m[i].assign(m2);
        this.v[i].assign(v2);
        p.assign(p2);
      });
    });
  }
  finish(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
  async exportState(): Promise<OptimizerState> {
    return { t: this.t, extra: 0, slots: await exportSlots([...this.m, ...this.v]) };
  }
  importState(s: OptimizerState): void {
    this.t = s.t;
    importSlots([...this.m, ...this.v], s.slots);
  }
}

class ScheduleFreeAdamW implements Optimizer {
  private t = 0;
  private lrSqSum = 0;
  private readonly z: tf.Variable[];
  private readonly x: tf.Variable[];
  private readonly v: tf.Variable[];
  constructor(
    private readonly vars: tf.Variable[],
    private readonly o: OptimizerOptions,
    private readonly lrScales?: readonly number[],
  ) {
    this.z = vars.map((p) => slot(p.clone()));
    this.x = vars.map((p) => slot(p.clone()));
    this.v = vars.map((p) => slot(tf.zerosLike(p)));
  }
  step(rawGrads: tf.Tensor[], lr: number): void {
    const [b1, b2] = this.o.betas;
    const eps = this.o.eps ?? 1e-8;
    this.t += 1;
    const lrHat = lr * Math.sqrt(1 - b2 ** this.t); // Adam's second-moment bias correction
    this.lrSqSum += lr * lr;
    const c = this.lrSqSum > 0 ? (lr * lr) / this.lrSqSum : 0; // weight of this iterate in the average
    tf.tidy(() => {
      const grads = clipByGlobalNorm(rawGrads, this.o.gradClip);
      this.vars.forEach((y, i) => {
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(grads[i]), 1 - b2));
        this.v[i].assign(v);
        let step = tf.div(grads[i], tf.add(tf.sqrt(v), eps));
        if (this.o.weightDecay > 0) step = tf.add(step, tf.mul(y, this.o.weightDecay));
        const scale = this.lrScales?.[i] ?? 1;
        const z = tf.sub(this.z[i], tf.mul(step, scale === 1 ? lrHat : lrHat * scale));
        const x = tf.add(tf.mul(this.x[i], 1 - c), tf.mul(z, c));
        this.z[i].assign(z);
        this.x[i].assign(x);
        y.assign(tf.add(tf.mul(z, 1 - b1), tf.mul(x, b1)));
      });
    });
  }
  finish(): void {
    this.vars.forEach((p, i) => p.assign(this.x[i]));
    for (const t of [...this.z, ...this.x, ...this.v]) t.dispose();
  }
  async exportState(): Promise<OptimizerState> {
    return { t: this.t, extra: this.lrSqSum, slots: await exportSlots([...this.z, ...this.x, ...this.v]) };
  }
  importState(s: OptimizerState): void {
    this.t = s.t;
    this.lrSqSum = s.extra;
    importSlots([...this.z, ...this.x, ...this.v], s.slots);
  }
}

/** `lrScales[i]` multiplies the learning rate of `vars[i]` (LoRA+-style per-factor rates; default 1). */
export function createOptimizer(vars: tf.Variable[], o: OptimizerOptions, lrScales?: readonly number[]): Optimizer {
  return o.kind === 'adamw' ? new AdamW(vars, o, lrScales) : new ScheduleFreeAdamW(vars, o, lrScales);
}

/** Linear warm-up over `warmupSteps` global steps, then constant. */
export function learningRateAt(step: number, lr: number, warmupSteps: number): number {
  return warmupSteps > 0 && step < warmupSteps ? (lr * (step + 1)) / warmupSteps : lr;
}
