/**
 * Batched greedy decoding with a KV cache.
 *
 * Prompts of different lengths share one batch by LEFT padding: every prompt ends at the same
 * slot, so each step feeds one token per row. The padding is hidden from attention by a key mask
 * (ops.causalAttentionMasked: hidden keys get exactly zero weight), and each row's positions
 * count from its own first real token, so a row computes what it would compute alone. The prompt
 * is run once; each later step feeds only the token just chosen. A row stops at EOS or at its
 * token budget; finished rows are dropped from the batch (and the cache) at once.
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../util/errors.js';
import type { CausalLM } from './causal-lm.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Stop a row after it emits this token, or any of these (included in its output, as Hugging Face does). */
  eosId?: number | readonly number[];
  /** Never stop at eosId. */
  ignoreEos?: boolean;
}

export interface GenerateResult {
  /** Generated ids per prompt (not including the prompt). */
  outputIds: number[][];
  /** Natural-log probability the model gave each generated id. */
  logprobs: number[][];
}

/**
 * Greedy continuation of each prompt. A row's prompt plus output never exceeds the model's
 * context length (its output is cut short there).
 */
export async function generate(model: CausalLM, prompts: number[][], opts: GenerateOptions): Promise<GenerateResult> {
  const { vocabSize: V, contextLength: nPositions, hiddenSize: D } = model.info;
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new UsageError(`generate: prompt ${i} is empty`);
    if (p.length > nPositions) throw new UsageError(`generate: prompt ${i} has ${p.length} tokens, more than the model's context length (${nPositions})`);
    const bad = p.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
    if (bad !== undefined) throw new UsageError(`generate: prompt ${i} has token id ${bad}, outside the vocabulary [0, ${V - 1}]`);
  });
  const stop = new Set<number>(opts.ignoreEos || opts.eosId === undefined ? [] : typeof opts.eosId === 'number' ? [opts.eosId] : opts.eosId);
  const outputIds: number[][] = prompts.map(() => []);
  const logprobs: number[][] = prompts.map(() => []);
  const budget = prompts.map((p) => Math.min(opts.maxNewTokens, nPositions - p.length));

  // rows[j] is the prompt index of batch row j; pad[j] its left padding.
  let rows = prompts.map((_, i) => i).filter((i) => budget[i] > 0);
  if (rows.length === 0) return { outputIds, logprobs };
  const T = Math.max(...rows.map((i) => prompts[i].length));
  let pad = rows.map((i) => T - prompts[i].length);

  const cache = model.createCache();
  try {
    // Prompt phase: all prompts at once, padded on the left with the row's first token (hidden anyway).
    let step = tf.tidy(() => {
      const ids = rows.map((i, j) => [...new Array(pad[j]).fill(prompts[i][0]), ...prompts[i]]);
      const positions = pad.map((pj) => Array.from({ length: T }, (_, s) => Math.max(0, s - pj)));
      const keyMask = pad.some((pj) => pj > 0) ? maskFor(pad, T) : undefined;
      const h = model.hidden(tf.tensor2d(ids, [rows.length, T], 'int32'), {
        cache,
        positions: tf.tensor2d(positions, [rows.length, T], 'int32'),
        keyMask,
      });
      return model.logits(h.slice([0, T - 1, 0], [rows.length, 1, D]).reshape([rows.length, D]));
    });

    for (;;) {
      const { next, lp } = pickNext(await step.data(), rows.length, V);
      step.dispose();

      const keep: number[] = [];
      rows.forEach((i, j) => {
        outputIds[i].push(next[j]);
        logprobs[i].push(lp[j]);
        if (!stop.has(next[j]) && outputIds[i].length < budget[i]) keep.push(j);
      });
      if (keep.length === 0) break;
      if (keep.length < rows.length) {
        cache.selectRows(keep);
        rows = keep.map((j) => rows[j]);
        pad = keep.map((j) => pad[j]);
      }

      // Decode phase: one token per row, at the row's own next position.
      const S = cache.length;
      step = tf.tidy(() => {
        const ids = tf.tensor2d(rows.map((i) => [outputIds[i][outputIds[i].length - 1]]), [rows.length, 1], 'int32');
        const positions = tf.tensor2d(rows.map((i) => [prompts[i].length + outputIds[i].length - 1]), [rows.length, 1], 'int32');
        const keyMask = pad.some((pj) => pj > 0) ? maskFor(pad, S + 1) : undefined;
        const h = model.hidden(ids, { cache, positions, keyMask });
        return model.logits(h.reshape([rows.length, D]));
      });
    }
  } finally {
    cache.dispose();
  }
  return { outputIds, logprobs };
}

/** bool [B, S]: slot s of row j is a real token iff s >= pad[j]. */
function maskFor(pad: number[], S: number): tf.Tensor2D {
  const m = new Uint8Array(pad.length * S);
  pad.forEach((pj, j) => m.fill(1, j * S + pj, (j + 1) * S));
  return tf.tensor2d(m, [pad.length, S], 'bool');
}

/**
 * Greedy choice from the last position's logits [B, V] (on the host, where the loop needs them
 * anyway): per row the argmax id (the first, on ties) and its log-probability
 * logits[id] − logsumexp(logits), in float64.
 */
function pickNext(logits: ArrayLike<number>, B: number, V: number): { next: Int32Array; lp: Float64Array } {
  const next = new Int32Array(B);
  const lp = new Float64Array(B);
  for (let j = 0; j < B; j++) {
    const o = j * V;
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[o + i] > logits[o + best]) best = i;
    const mx = logits[o + best];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[o + i] - mx);
    next[j] = best;
    lp[j] = -Math.log(sum);
  }
  return { next, lp };
}
