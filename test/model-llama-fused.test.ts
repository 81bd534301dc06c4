/**
 * The Llama model's fused path against its composite reference, as model-fused.test.ts does for
 * GPT-2: with LoRA on every linear layer (grouped-query heads, a head size of 6 that is neither
 * hidden/heads nor a multiple of 4, q/k/v biases, a left-padded batch with per-row rotary
 * positions and a key mask), the fast engine (rmsNorm, rotary, swiglu, selfAttention and
 * linearFused kernels) must give the loss and every adapter gradient of plain tfjs with each
 * adapter applied through delta().
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { AdapterLayer } from '../src/adapters/layer.js';
import * as ops from '../src/engine/ops.js';
import { setSimdForTesting } from '../src/engine/simd/runtime.js';
import type { LinearDelta } from '../src/model/linear-delta.js';
import type { LlamaConfig } from '../src/model/llama-config.js';
import { Llama, llamaParams } from '../src/model/llama.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, FAST_BACKEND, runOn, type Result } from './engine-helpers.js';

const TINY: LlamaConfig = {
  modelType: 'qwen2', vocabSize: 24, hiddenSize: 12, intermediateSize: 20, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 6,
  maxPositions: 16, rmsNormEps: 1e-6, ropeTheta: 10000, qkvBias: true, oBias: false, mlpBias: false, tieWordEmbeddings: false, eosTokenIds: [],
};
const [B, T, R] = [3, 7, 2];
const PAD = [0, 2, 1];

function step(lowRank: boolean): tf.Tensor[] {
  const rng = new Rng(13);
  const randn = (n: number, s: number) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const arrays = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, p] of llamaParams(TINY)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    arrays.set(name, { shape: p.shape, data: name.endsWith('norm.weight') ? randn(n, 0.2).map((v) => 1 + v) : randn(n, 0.3) });
  }
  const model = Llama.fromArrays(TINY, arrays);
  const layers = model.linears().map((l) => {
    const layer = new AdapterLayer(l, R, 4, { A: randn(R * l.inFeatures, 0.3), B: randn(l.outFeatures * R, 0.3) });
    const delta: LinearDelta = lowRank ? layer : { delta: (x) => layer.delta(x) };
    model.setDelta(l.name, delta);
    return layer;
  });
  const vars = layers.flatMap((l) => [l.A, l.B]);
  const ids = tf.tensor2d(Int32Array.from({ length: B * T }, () => rng.int(0, TINY.vocabSize)), [B, T], 'int32');
  const positions = tf.tensor2d(PAD.flatMap((p) => Array.from({ length: T }, (_, t) => Math.max(0, t - p))), [B, T], 'int32');
  const keyMask = tf.tensor2d(PAD.flatMap((p) => Array.from({ length: T }, (_, t) => (t >= p ? 1 : 0))), [B, T], 'bool');
  const targets = tf.tensor1d(Int32Array.from({ length: B * T }, () => rng.int(0, TINY.vocabSize)), 'int32');
  const weights = tf.tensor1d(PAD.flatMap((p) => Array.from({ length: T }, (_, t) => (t >= p ? 1 : 0))), 'float32');
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.forward(ids, { positions, keyMask }).reshape([B * T, TINY.vocabSize]) as tf.Tensor2D;
    return ops.crossEntropy(logits, targets, weights);
  }, vars);
  const out = [value, ...vars.map((v) => grads[v.name])];
  tf.dispose([ids, positions, keyMask, targets, weights]);
  layers.forEach((l) => l.dispose());
  model.dispose();
  return out;
}

test('Llama with LoRA on every linear: the fused path gives the composite loss and adapter gradients (GQA, biases, left padding)', async () => {
  const ref = await runOn('cpu', [], () => step(false));
  assert.equal(ref.length, 1 + 2 * 7 * 2, 'loss + A, B of 7 linears in 2 layers');
  const cases: [string, Result[]][] = [
    ['tfjs cpu, lowRank factors', await runOn('cpu', [], () => step(true))],
    ['fast engine, fused', await runOn(FAST_BACKEND, [], () => step(true))],
    ['fast engine, delta()', await runOn(FAST_BACKEND, [], () => step(false))],
  ];
  setSimdForTesting(false);
  try {
    cases.push(['fast engine, fused, no SIMD', await runOn(FAST_BACKEND, [], () => step(true))]);
  } finally {
    setSimdForTesting(true);
  }
  for (const [what, got] of cases) assertClose(got, ref, 1e-4, 1e-5, what);
});
