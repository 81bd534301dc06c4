/**
 * Batches for causal-LM fine-tuning: each example is prompt ids + target ids (target ends with
 * EOS). The model reads seq[0..L-2] and predicts seq[1..L-1]; the loss weight is 1 exactly where
 * the predicted token belongs to the target, so the loss covers target tokens only. Sequences
 * are right-padded (causal attention never looks right, so padding changes nothing before it).
 */
import { Rng } from '../util/rng.js';

export interface Example {
  promptIds: number[];
  targetIds: number[];
  /** Per-position loss weights of promptIds ++ targetIds (overrides the prompt/target rule). */
  weights?: number[];
}

export interface Batch {
  B: number;
  T: number;
  inputs: Int32Array; // [B, T]
  targets: Int32Array; // [B, T]
  weights: Float32Array; // [B, T]
}

/** `promptLoss`: weight every real position (plain language modelling, used for pretraining). */
export function makeBatch(examples: readonly Example[], padId: number, promptLoss = false): Batch {
  const B = examples.length;
  const T = Math.max(...examples.map((e) => e.promptIds.length + e.targetIds.length)) - 1;
  const inputs = new Int32Array(B * T).fill(padId);
  const targets = new Int32Array(B * T).fill(padId);
  const weights = new Float32Array(B * T);
  examples.forEach((e, b) => {
    const seq = [...e.promptIds, ...e.targetIds];
    for (let t = 0; t < seq.length - 1; t++) {
      inputs[b * T + t] = seq[t];
      targets[b * T + t] = seq[t + 1];
      if (e.weights) weights[b * T + t] = e.weights[t + 1];
      else if (promptLoss || t + 1 >= e.promptIds.length) weights[b * T + t] = 1;
    }
  });
  return { B, T, inputs, targets, weights };
}

/** Epoch-wise shuffled batches: every example once per epoch, order from the seeded stream. */
export class BatchSampler {
  private order: number[] = [];
  private pos = 0;
  constructor(
    private readonly n: number,
    private readonly batchSize: number,
    private readonly rng: Rng,
  ) {
    if (n === 0) throw new Error('BatchSampler: no examples');
  }
  next(): number[] {
    const out: number[] = [];
    while (out.length < Math.min(this.batchSize, this.n)) {
      if (this.pos >= this.order.length) {
        this.order = this.rng.shuffle(Array.from({ length: this.n }, (_, i) => i));
        this.pos = 0;
      }
      out.push(this.order[this.pos++]);
    }
    return out;
  }
}
