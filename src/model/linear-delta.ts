/**
 * The adapter hook of the frozen model's linear layers. An adapter (LoRA, CoLoRA) implements
 * LinearDelta with its own trainable tf.Variables; a layer with a delta set computes
 * `linear(x, W, b) + delta.delta(x)`, so gradients reach the adapter's variables while the base
 * weights stay constant.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LowRank } from '../engine/ops.js';

export interface LinearDelta {
  /** x [N, in] → the additive correction [N, out]. */
  delta(x: tf.Tensor2D): tf.Tensor2D;
  /**
   * The same correction as factors, when it is low-rank: delta(x) = scale · (x Aᵀ) Bᵀ. The model
   * then fuses it into the layer's own product (ops.linearFused). Called inside the forward pass,
   * so tensors computed here (e.g. CoLoRA's B·S) are recorded for the gradient and freed with it.
   * Undefined when the correction is not low-rank (e.g. an adapter with a dense frozen part).
   */
  lowRank?(): LowRank | undefined;
}

/** One adaptable linear layer of a model, e.g. {name: 'h.0.attn.c_attn', inFeatures: 768, outFeatures: 2304}. */
export interface LinearInfo {
  name: string;
  inFeatures: number;
  outFeatures: number;
}

/**
 * A linear layer's frozen weight as stored, for adapters that start from a decomposition of it
 * (PiSSA, SVFit, LoLDU): GPT-2's Conv1D stores [in, out] (`in_out`), nn.Linear [out, in] (`out_in`).
 * An adapter that changes the frozen base (PiSSA's residual W − U_r Σ_r V_rᵀ) does not write
 * it back: its LinearDelta adds the (low-rank) correction, so every model family keeps its
 * weights untouched and the hook stays the only interface.
 */
export interface FrozenWeight {
  data: Float32Array;
  layout: 'in_out' | 'out_in';
  inFeatures: number;
  outFeatures: number;
}
