/**
 * The induction probe: the model's teacher-forced loss on the repeats of shuffled spans of
 * distinct tokens (repeat-blocks.ts), with spans of 16 tokens drawn from the pretraining stream.
 * Copying from context needs an induction head; a model that has one scores well under 1 nat
 * here, one without scores around ln(vocabulary) or worse. It is measured at every pretraining
 * checkpoint because the skill appears suddenly (a phase change) or not at all, and the NI tasks
 * are mostly copying (docs/base-model.md).
 */
import { makeBatch, type Example } from './batch.js';
import { batchLoss, type CausalLM } from './loss.js';
import { repeatBlocks } from './repeat-blocks.js';
import { Rng } from '../util/rng.js';

/** Fixed probe blocks for a run (seeded: the same blocks at every checkpoint). */
export function inductionProbeBlocks(stream: readonly Example[], length: number, seed: number): Example[] {
  return repeatBlocks(stream, 8, Rng.derive(seed, 'induction-probe'), { length, minSpan: 16, maxSpan: 16 });
}

export async function inductionLoss(model: CausalLM, blocks: readonly Example[], padId: number): Promise<number> {
  const loss = batchLoss(model, makeBatch(blocks, padId, true));
  const value = (await loss.data())[0];
  loss.dispose();
  return value;
}
