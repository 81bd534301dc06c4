/**
 * Fresh GPT-2 weights, initialised as Hugging Face's GPT2PreTrainedModel does: normal(0, 0.02)
 * for embeddings and linear weights, residual projections (c_proj) scaled by 1/sqrt(2 n_layer),
 * zero biases, unit LayerNorm gains. For pretraining from scratch and for tests.
 */
import { Rng } from '../util/rng.js';
import type { GPT2Config } from './config.js';
import { gpt2ParamShapes } from './gpt2.js';

export function initGPT2Arrays(config: GPT2Config, seed: number): Map<string, { shape: number[]; data: Float32Array }> {
  const rng = Rng.derive(seed, 'gpt2-init');
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of gpt2ParamShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/ln_(1|2|f)\.weight$/.test(name)) data.fill(1);
    else if (name.endsWith('.weight')) rng.fillNormal(data, name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * config.nLayer) : 0.02);
    out.set(name, { shape, data });
  }
  return out;
}
