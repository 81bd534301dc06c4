import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { loadGPT2 } from '../src/model/checkpoint.js';
import type { GPT2Config } from '../src/model/config.js';
import { GPT2 } from '../src/model/gpt2.js';
import { initGPT2Arrays } from '../src/model/init.js';
import type { LinearDelta } from '../src/model/linear-delta.js';
import { sharedPath, skipUnlessShared } from './helpers/shared.js';

const FIXTURE = 'fixtures/tiny-gpt2';
const TINY: GPT2Config = {
  vocabSize: 20, nPositions: 12, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32,
  activation: 'gelu_new', layerNormEpsilon: 1e-5, tieWordEmbeddings: true,
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('forward matches the PyTorch logits of the tiny-gpt2 fixture', { skip: skipUnlessShared(FIXTURE) }, () => {
  const expected = JSON.parse(readFileSync(sharedPath(`${FIXTURE}/expected_logits.json`), 'utf8'));
  const model = loadGPT2(sharedPath(FIXTURE));
  const logits = model.forward(tf.tensor2d(expected.input_ids, undefined, 'int32'));
  assert.deepEqual(logits.shape, [2, 16, 300]);
  const diff = maxAbsDiff(logits.dataSync(), (expected.logits as number[][][]).flat(2));
  console.log(`# tiny-gpt2 max |logit - PyTorch| = ${diff.toExponential(2)}`);
  assert.ok(diff < 1e-4, `max abs diff ${diff}`);
  logits.dispose();
  model.dispose();
});

test('incremental decoding with the KV cache equals one full forward', { skip: skipUnlessShared(FIXTURE) }, () => {
  const model = loadGPT2(sharedPath(FIXTURE));
  const ids = [[5, 17, 200, 3, 99, 42, 7, 250, 11], [1, 2, 3, 4, 5, 6, 7, 8, 9]];
  const full = model.forward(tf.tensor2d(ids, undefined, 'int32'));
  // Feed 4, then 1, then 4 tokens.
  const cache = model.createCache();
  const parts: tf.Tensor3D[] = [];
  for (const [a, b] of [[0, 4], [4, 5], [5, 9]]) {
    parts.push(model.forward(tf.tensor2d(ids.map((r) => r.slice(a, b)), undefined, 'int32'), { cache }));
    assert.equal(cache.length, b);
  }
  const inc = tf.concat(parts, 1);
  const diff = maxAbsDiff(inc.dataSync(), full.dataSync());
  assert.ok(diff < 1e-4, `max abs diff ${diff}`);
  cache.dispose();
  tf.dispose([full, inc, ...parts]);
  model.dispose();
});

test('linears() lists the adaptable layers with their sizes', () => {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 0));
  const ls = model.linears();
  assert.equal(ls.length, 8);
  assert.deepEqual(ls.slice(0, 4), [
    { name: 'h.0.attn.c_attn', inFeatures: 8, outFeatures: 24 },
    { name: 'h.0.attn.c_proj', inFeatures: 8, outFeatures: 8 },
    { name: 'h.0.mlp.c_fc', inFeatures: 8, outFeatures: 32 },
    { name: 'h.0.mlp.c_proj', inFeatures: 32, outFeatures: 8 },
  ]);
  assert.throws(() => model.setDelta('h.0.ln_1', { delta: (x) => x }), /no linear layer/);
  model.dispose();
});

test('a delta adds to its layer, gradients reach its variables and not the frozen weights', () => {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 0));
  const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
  const base = model.forward(ids);

  // A LoRA-shaped delta x·A·B on h.1.mlp.c_fc (in 8, out 32).
  const A = tf.variable(tf.randomNormal([8, 2], 0, 0.5, 'float32', 1));
  const B = tf.variable(tf.zeros([2, 32]));
  const lora: LinearDelta = { delta: (x) => tf.matMul(tf.matMul(x, A), B) };
  model.setDelta('h.1.mlp.c_fc', lora);

  // B = 0: the delta is zero, logits unchanged.
  const same = model.forward(ids);
  assert.equal(maxAbsDiff(same.dataSync(), base.dataSync()), 0);

  const loss = () => tf.sum(tf.square(model.forward(ids))) as tf.Scalar;
  const { grads } = tf.variableGrads(loss);
  assert.deepEqual(Object.keys(grads).sort(), [A.name, B.name].sort(), 'only the adapter variables get gradients');
  assert.ok(tf.norm(grads[B.name]).dataSync()[0] > 0, 'B gets a non-zero gradient');

  B.assign(tf.randomNormal([2, 32], 0, 0.5, 'float32', 2));
  const changed = model.forward(ids);
  assert.ok(maxAbsDiff(changed.dataSync(), base.dataSync()) > 1e-3, 'a non-zero delta changes the logits');

  model.setDelta('h.1.mlp.c_fc', undefined);
  const removed = model.forward(ids);
  assert.equal(maxAbsDiff(removed.dataSync(), base.dataSync()), 0);
  tf.dispose([ids, base, same, changed, removed, A, B, ...Object.values(grads)]);
  model.dispose();
});

test('dispose frees the weights', () => {
  const before = tf.memory().numTensors;
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 0));
  assert.ok(tf.memory().numTensors > before);
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});
