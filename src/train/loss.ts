/** The causal-LM loss of a batch: mean cross-entropy over the target tokens only. */
import * as tf from '@tensorflow/tfjs';
import { crossEntropy } from '../engine/ops.js';
import type { Batch } from './batch.js';
import type { CausalLM as Model } from '../model/causal-lm.js';

/** What training needs from a model (src/model/causal-lm.ts): logits [B, T, V] for token ids [B, T]. */
export type CausalLM = Pick<Model, 'forward'>;

export function batchLoss(model: CausalLM, batch: Batch): tf.Scalar {
  return tf.tidy(() => {
    const ids = tf.tensor2d(batch.inputs, [batch.B, batch.T], 'int32');
    const logits = model.forward(ids);
    const V = logits.shape[2];
    return crossEntropy(
      tf.reshape(logits, [batch.B * batch.T, V]) as tf.Tensor2D,
      tf.tensor1d(batch.targets, 'int32'),
      tf.tensor1d(batch.weights, 'float32'),
    );
  });
}
