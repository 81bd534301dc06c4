/**
 * The model's fused paths against its composite reference: GPT2 with LoRA and CoLoRA adapters
 * (their lowRank() factors go into ops.linearFused, attention reads heads in place through
 * ops.causalSelfAttention) must give the loss and adapter gradients of the plain composition
 * (tfjs cpu, each adapter applied through its delta()).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { AdapterLayer } from '../src/adapters/layer.js';
import * as ops from '../src/engine/ops.js';
import { setSimdForTesting } from '../src/engine/simd/runtime.js';
import { KVStore } from '../src/engine/kv-store.js';
import type { GPT2Config } from '../src/model/config.js';
import { generate } from '../src/model/generate.js';
import { GPT2 } from '../src/model/gpt2.js';
import { ConcatKVCache, StoreKVCache, type KVCache } from '../src/model/kv-cache.js';
import { initGPT2Arrays } from '../src/model/init.js';
import type { LinearDelta } from '../src/model/linear-delta.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, FAST_BACKEND, runOn, type Result } from './engine-helpers.js';

const TINY: GPT2Config = {
  vocabSize: 24, nPositions: 12, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32,
  activation: 'gelu_new', layerNormEpsilon: 1e-5, tieWordEmbeddings: true,
};
const [B, T, R] = [2, 6, 3];

/**
 * Loss and adapter gradients of one training step on the active backend. Every linear layer gets
 * an adapter (CoLoRA on the attention output projection and the MLP's first layer, LoRA
 * elsewhere), with non-zero B so every term counts. `lowRank` false hides the adapters' factors,
 * so the model applies them through delta() (the reference path).
 */
function step(lowRank: boolean): tf.Tensor[] {
  const rng = new Rng(7);
  const randn = (n: number, s: number) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 3));
  const layers = model.linears().map((l) => {
    const colora = l.name.endsWith('attn.c_proj') || l.name.endsWith('mlp.c_fc');
    const f = { A: randn(R * l.inFeatures, 0.3), B: randn(l.outFeatures * R, 0.3), S: colora ? randn(R * R, 0.5) : undefined };
    const layer = new AdapterLayer(l, R, 16 / R, f);
    const delta: LinearDelta = lowRank ? layer : { delta: (x) => layer.delta(x) };
    model.setDelta(l.name, delta);
    return layer;
  });
  const vars = layers.flatMap((l) => [l.A, l.B, ...(l.S ? [l.S] : [])]);
  const ids = tf.tensor2d(Int32Array.from({ length: B * T }, () => rng.int(0, TINY.vocabSize)), [B, T], 'int32');
  const targets = tf.tensor1d(Int32Array.from({ length: B * T }, () => rng.int(0, TINY.vocabSize)), 'int32');
  const weights = tf.ones([B * T]) as tf.Tensor1D;
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.forward(ids).reshape([B * T, TINY.vocabSize]) as tf.Tensor2D;
    return ops.crossEntropy(logits, targets, weights);
  }, vars);
  const out = [value, ...vars.map((v) => grads[v.name])];
  tf.dispose([ids, targets, weights]);
  layers.forEach((l) => l.dispose());
  model.dispose();
  return out;
}

test('GPT2 with LoRA and CoLoRA: the fused path (linearFused, causalSelfAttention) gives the composite loss and adapter gradients', async () => {
  const ref = await runOn('cpu', [], () => step(false));
  const cases: [string, Result[]][] = [
    ['tfjs cpu, lowRank factors', await runOn('cpu', [], () => step(true))],
    ['fast engine, fused', await runOn(FAST_BACKEND, [], () => step(true))],
    ['fast engine, delta()', await runOn(FAST_BACKEND, [], () => step(false))],
  ];
  assert.equal(ref.length, 1 + 8 * 2 + 4, 'loss + A, B of 8 layers + S of 4');
  for (const [what, got] of cases) assertClose(got, ref, 1e-4, 1e-5, what);
});

test('GPT2 on the fast engine: the training forward (causalSelfAttention) equals incremental decoding with the KV cache', async () => {
  const f = () => {
    const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 5));
    const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], undefined, 'int32');
    const full = model.forward(ids);
    const cache = model.createCache();
    const a = model.forward(ids.slice([0, 0], [B, 4]), { cache });
    const b = model.forward(ids.slice([0, 4], [B, 2]), { cache });
    const inc = tf.concat([a, b], 1);
    cache.dispose();
    model.dispose();
    return [full, inc];
  };
  const [full, inc] = await runOn(FAST_BACKEND, [], f);
  assertClose([inc], [full], 1e-4, 1e-5, 'cached vs full');
});

/**
 * Decoding with a KV cache: a left-padded prompt (key mask), then single tokens, rows dropped
 * midway, past the store's first capacity (64) so it regrows. Returns every step's hidden states.
 */
function decode(cache: KVCache, model: GPT2): tf.Tensor[] {
  const outs: tf.Tensor[] = [];
  let rows = 3;
  const pad = [0, 2, 1];
  const T0 = 5;
  const mask = (S: number, p: number[]) => tf.tensor2d(p.flatMap((pj) => Array.from({ length: S }, (_, s) => (s >= pj ? 1 : 0))), [p.length, S], 'bool');
  const ids0 = tf.tensor2d([[1, 2, 3, 4, 5], [6, 6, 6, 7, 8], [9, 9, 10, 11, 12]], undefined, 'int32');
  const pos0 = tf.tensor2d(pad.map((pj) => Array.from({ length: T0 }, (_, s) => Math.max(0, s - pj))), undefined, 'int32');
  outs.push(model.hidden(ids0, { cache, positions: pos0, keyMask: mask(T0, pad) }));
  let curPad = pad;
  for (let step = 0; step < 66; step++) {
    if (step === 20) {
      cache.selectRows([2, 0]);
      curPad = [pad[2], pad[0]];
      rows = 2;
    }
    const S = cache.length;
    const ids = tf.tensor2d(Array.from({ length: rows }, (_, j) => [(step * 7 + j) % TINY.vocabSize]), [rows, 1], 'int32');
    const pos = tf.tensor2d(curPad.map((pj) => [S - pj]), [rows, 1], 'int32');
    outs.push(model.hidden(ids, { cache, positions: pos, keyMask: mask(S + 1, curPad) }));
  }
  return outs;
}

test('decoding: the fast engine in-place KV cache (StoreKVCache) equals ConcatKVCache and tfjs cpu, with key mask, dropped rows and regrowth', async () => {
  const LONG: GPT2Config = { ...TINY, nPositions: 80 };
  const run = (store: boolean) => () => {
    const model = GPT2.fromArrays(LONG, initGPT2Arrays(LONG, 9));
    const cache = store ? model.createCache() : new ConcatKVCache(LONG.nLayer);
    assert.equal(cache instanceof StoreKVCache, store && tf.getBackend() === FAST_BACKEND);
    const outs = decode(cache, model);
    assert.equal(cache.length, 5 + 66);
    cache.dispose();
    model.dispose();
    return outs;
  };
  const ref = await runOn('cpu', [], run(false));
  assertClose(await runOn(FAST_BACKEND, [], run(false)), ref, 1e-4, 1e-5, 'fast engine, ConcatKVCache');
  assertClose(await runOn(FAST_BACKEND, [], run(true)), ref, 1e-4, 1e-5, 'fast engine, StoreKVCache');
  setSimdForTesting(false);
  try {
    assertClose(await runOn(FAST_BACKEND, [], run(true)), ref, 1e-4, 1e-5, 'fast engine, StoreKVCache, no SIMD');
  } finally {
    setSimdForTesting(true);
  }
});

test('generate on the fast engine picks the same tokens as on tfjs cpu, batched and one prompt at a time', async () => {
  const prompts = [[1, 2, 3], [4, 5, 6, 7, 8, 9], [10], [3, 3, 3, 3]];
  const go = async (backend: string) => {
    await runOn(backend, [], () => []);
    const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 11));
    const batched = await generate(model, prompts, { maxNewTokens: 6, eosId: 5 });
    const single = [];
    for (const p of prompts) single.push(await generate(model, [p], { maxNewTokens: 6, eosId: 5 }));
    model.dispose();
    return { batched, single };
  };
  const ref = await go('cpu');
  const got = await go(FAST_BACKEND);
  assert.deepEqual(got.batched.outputIds, ref.batched.outputIds);
  prompts.forEach((_, i) => assert.deepEqual(got.single[i].outputIds[0], ref.batched.outputIds[i], `prompt ${i} alone`));
  got.batched.logprobs.flat().forEach((lp, i) => assert.ok(Math.abs(lp - ref.batched.logprobs.flat()[i]) < 1e-4, `logprob ${i}`));
});

test('KVStore: with SIMD its keys and values live in its own module memory and survive regrowth and dropped rows', () => {
  const st = new KVStore(2, 3, 4, 100);
  try {
    assert.ok(st.simd, 'SIMD is available on this machine');
    st.reserve(2, 5);
    assert.equal(st.k[1].buffer, st.simd.heap.buffer);
    assert.ok(st.offsetOf(st.k[0]) >= st.scratchFloats, 'the cache sits after the scratch region');
    // Fill positions 0..4 with values that name (layer, row, head, position, i).
    const val = (l: number, r: number, h: number, s: number, i: number) => l * 10000 + r * 1000 + h * 100 + s * 4 + i;
    const fill = () => {
      for (let l = 0; l < 2; l++) for (let r = 0; r < st.B; r++) for (let h = 0; h < 3; h++) for (let s = 0; s < st.length; s++) for (let i = 0; i < 4; i++) {
        st.k[l][((r * 3 + h) * st.cap + s) * 4 + i] = val(l, r, h, s, i);
        st.v[l][((r * 3 + h) * st.cap + s) * 4 + i] = -val(l, r, h, s, i);
      }
    };
    st.length = 5;
    fill();
    st.reserve(2, 95); // 100 positions: past the first capacity (64), so it relayouts
    assert.ok(st.cap >= 100);
    st.selectRows([1]);
    assert.equal(st.B, 1);
    for (let l = 0; l < 2; l++) for (let h = 0; h < 3; h++) for (let s = 0; s < 5; s++) for (let i = 0; i < 4; i++) {
      assert.equal(st.k[l][(h * st.cap + s) * 4 + i], val(l, 1, h, s, i));
      assert.equal(st.v[l][(h * st.cap + s) * 4 + i], -val(l, 1, h, s, i));
    }
  } finally {
    st.dispose();
  }
});

test('KVStore: a disposed store lends its module instance to the next, unless its memory is large', () => {
  const small = new KVStore(1, 2, 4, 16);
  small.reserve(1, 4);
  const inst = small.simd;
  small.dispose();
  small.dispose(); // twice: must not hand the instance out twice
  const a = new KVStore(1, 2, 4, 16);
  const b = new KVStore(1, 2, 4, 16);
  try {
    assert.equal(a.simd, inst, 'reused');
    assert.notEqual(b.simd, inst, 'one instance, one store');
  } finally {
    a.dispose();
    b.dispose();
  }
  // A store whose memory outgrew the cap is not kept (2 · 16,384 · 1,024 floats: 128 MiB, untouched pages).
  const big = new KVStore(1, 1, 1024, 16384);
  big.reserve(1, 9000);
  const bigInst = big.simd;
  assert.ok(bigInst && bigInst.heap.byteLength > KVStore.SPARE_MAX_BYTES);
  const holding = [new KVStore(1, 2, 4, 16), new KVStore(1, 2, 4, 16)]; // empty the spare list
  big.dispose();
  const next = new KVStore(1, 2, 4, 16);
  try {
    assert.notEqual(next.simd, bigInst, 'the large instance went to the garbage collector');
  } finally {
    next.dispose();
    for (const h of holding) h.dispose();
  }
});
