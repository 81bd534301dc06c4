/**
 * A client's local training: `steps` optimizer steps on its own examples, updating only the
 * adapter variables the method trains. The loss is read back once per step, after the update,
 * to log it and to stop on a non-finite value.
 */
import * as tf from '@tensorflow/tfjs';
import { RunError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import { BatchSampler, makeBatch, type Example } from './batch.js';
import { batchLoss, type CausalLM } from './loss.js';
import { createOptimizer, learningRateAt, type OptimizerOptions } from './optimizer.js';
import { yieldToEventLoop } from '../util/yield.js';

/** A non-finite loss: training stops here (step counts from 1). */
export class NonFiniteLossError extends RunError {
  constructor(message: string, readonly step: number, readonly loss: number) {
    super(message);
  }
}

export interface LocalTrainingOptions {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Global step of this round's first step (the warm-up and the logs count across rounds). */
  firstStep: number;
  optimizer: OptimizerOptions;
  padId: number;
  /** Names the run, method, client and round in a non-finite-loss error. */
  where: string;
  onStep?: (loss: number) => void;
  /** Called before step `s` (0-based, counted across phases) of this round, e.g. to set that step's dropout masks. */
  beforeStep?: (s: number) => void;
  /** Learning-rate multiplier per variable (same order as `vars`; default 1). */
  lrScales?: readonly number[];
  /**
   * Train in phases (CoLoRA's alternating schedule): each trains its own variables for its steps
   * with a fresh optimizer, drawing batches from the one sampler. Steps must add up to `steps`;
   * `vars` is then unused. Absent: one phase of `vars`.
   */
  phases?: { vars: tf.Variable[]; steps: number; lrScales?: readonly number[] }[];
}

export async function trainLocally(
  model: CausalLM,
  vars: tf.Variable[],
  examples: readonly Example[],
  rng: Rng,
  o: LocalTrainingOptions,
): Promise<number[]> {
  const phases = o.phases ?? [{ vars, steps: o.steps, lrScales: o.lrScales }];
  if (phases.reduce((s, p) => s + p.steps, 0) !== o.steps) throw new Error(`trainLocally: phases add up to a different number of steps than ${o.steps}`);
  const sampler = new BatchSampler(examples.length, o.batchSize, rng);
  const losses: number[] = [];
  let s = 0;
  for (const phase of phases) {
    const optimizer = createOptimizer(phase.vars, o.optimizer, phase.lrScales);
    try {
      for (let k = 0; k < phase.steps; k++, s++) {
        const batch = makeBatch(sampler.next().map((i) => examples[i]), o.padId);
        o.beforeStep?.(s);
        const { value, grads } = tf.variableGrads(() => batchLoss(model, batch), phase.vars);
        optimizer.step(phase.vars.map((v) => grads[v.name]), learningRateAt(o.firstStep + s, o.lr, o.warmupSteps));
        tf.dispose(grads);
        const loss = (await value.data())[0];
        value.dispose();
        if (!Number.isFinite(loss))
          throw new NonFiniteLossError(`non-finite loss (${loss}) at ${o.where}, step ${s + 1} of ${o.steps}; stopped, everything written so far is kept`, s + 1, loss);
        losses.push(loss);
        o.onStep?.(loss);
        await yieldToEventLoop();
      }
    } finally {
      optimizer.finish();
    }
  }
  return losses;
}
