/**
 * The fused ops of src/engine/ops.ts on the fast engine against their composite tfjs
 * implementations on plain tfjs cpu: values and gradients (tf.grads), on the SIMD path and on the
 * plain JavaScript path.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ops from '../src/engine/ops.js';
import { setSimdForTesting } from '../src/engine/simd/runtime.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, FAST_BACKEND, randInt, randn, runOn, type Arr } from './engine-helpers.js';

const rng = new Rng(11, 'engine-fused');
const RTOL = 1e-4;
const ATOL = 1e-5;

/** fused(...) on the fast engine (SIMD on and off) vs reference(...) on tfjs cpu. */
async function compare(
  what: string,
  inputs: Arr[],
  fused: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  reference: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): Promise<void> {
  const ref = await runOn('cpu', inputs, reference);
  for (const simd of [true, false]) {
    setSimdForTesting(simd);
    try {
      const got = await runOn(FAST_BACKEND, inputs, fused);
      assertClose(got, ref, RTOL, ATOL, `${what} (simd ${simd})`);
    } finally {
      setSimdForTesting(true);
    }
  }
}

/** Value and the gradients of sum(f · r) for a fixed random r, w.r.t. the first `nGrad` inputs. */
function withGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, nGrad: number, weights: Arr) {
  return (...xs: tf.Tensor[]): tf.Tensor[] => {
    const r = tf.tensor(weights.data, weights.shape);
    const loss = (...g: tf.Tensor[]) => tf.sum(tf.mul(f(...g, ...xs.slice(nGrad)), r));
    const { value, grads } = tf.valueAndGrads(loss)(xs.slice(0, nGrad));
    return [f(...xs), value, ...grads];
  };
}

test('linear and linearT (with and without bias) match matMul + add, with gradients for x and b', async () => {
  const x = randn(rng, [9, 6]);
  const w = randn(rng, [6, 5]);
  const wt = randn(rng, [5, 6]);
  const b = randn(rng, [5]);
  const r = randn(rng, [9, 5]);
  // Weights last: a plain-tensor weight is frozen (no gradient asked for it).
  await compare('linear', [x, b, w], withGrads((x, b, w) => ops.linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), 2, r), withGrads((x, b, w) => ops.composite.linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), 2, r));
  await compare('linear no bias', [x, w], withGrads((x, w) => ops.linear(x as tf.Tensor2D, w as tf.Tensor2D), 1, r), withGrads((x, w) => ops.composite.linear(x as tf.Tensor2D, w as tf.Tensor2D), 1, r));
  await compare('linearT', [x, b, wt], withGrads((x, b, w) => ops.linearT(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), 2, r), withGrads((x, b, w) => ops.composite.linearT(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), 2, r));
});

test('linear: a trainable tf.Variable weight gets its gradient; a plain-tensor weight is frozen and says so', async () => {
  const x = randn(rng, [9, 6]);
  const w = randn(rng, [6, 5]);
  const wt = randn(rng, [5, 6]);
  const r = randn(rng, [9, 5]);
  const trained = (impl: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D) => (xt: tf.Tensor, wt0: tf.Tensor, rt: tf.Tensor) => {
    const v = tf.variable(wt0 as tf.Tensor2D, true);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(impl(xt as tf.Tensor2D, v), rt)), [v]);
    const out = [value, grads[v.name]];
    v.dispose();
    return out;
  };
  await compare('linear, trainable W', [x, w, r], trained(ops.linear), trained(ops.composite.linear));
  await compare('linearT, trainable W', [x, wt, r], trained(ops.linearT), trained(ops.composite.linearT));
  await assert.rejects(
    runOn(FAST_BACKEND, [x, w], (xt, wt0) => tf.grad((w: tf.Tensor) => tf.sum(ops.linear(xt as tf.Tensor2D, w as tf.Tensor2D)))(wt0)),
    /plain tensor, which colora treats as frozen/,
  );
});

test('layerNorm over the last axis (2-D and 3-D), with gradients for x, gamma and beta', async () => {
  for (const shape of [[7, 64], [2, 3, 7]]) {
    const D = shape[shape.length - 1];
    const x = randn(rng, shape, 3);
    for (let i = 0; i < x.data.length; i++) x.data[i] += 5; // an offset, as residual streams have
    const g = randn(rng, [D]);
    const b = randn(rng, [D]);
    const r = randn(rng, shape);
    await compare(
      `layerNorm [${shape}]`,
      [x, g, b],
      withGrads((x, g, b) => ops.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5), 3, r),
      withGrads((x, g, b) => ops.composite.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5), 3, r),
    );
  }
});

test('geluTanh across its range (tails included), odd sizes, with gradient', async () => {
  const n = 4099;
  const x: Arr = { shape: [n], data: new Float32Array(n) };
  for (let i = 0; i < n; i++) x.data[i] = -14 + (28 * i) / (n - 1);
  const r = randn(rng, [n]);
  await compare('gelu range', [x], withGrads((x) => ops.geluTanh(x), 1, r), withGrads((x) => ops.composite.geluTanh(x), 1, r));
  const y = randn(rng, [3, 5, 7], 2);
  const ry = randn(rng, [3, 5, 7]);
  await compare('gelu random', [y], withGrads((x) => ops.geluTanh(x), 1, ry), withGrads((x) => ops.composite.geluTanh(x), 1, ry));
});

test('causalAttention: training (T = S), cached decoding (T < S), with gradients for q, k, v', async () => {
  for (const [B, H, T, S, hd] of [
    [2, 3, 6, 6, 4],
    [1, 2, 1, 9, 8],
    [2, 2, 3, 8, 5],
    [1, 1, 13, 13, 16],
  ]) {
    const q = randn(rng, [B, H, T, hd]);
    const k = randn(rng, [B, H, S, hd]);
    const v = randn(rng, [B, H, S, hd]);
    const r = randn(rng, [B, H, T, hd]);
    const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => ops.causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D);
    const c = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => ops.composite.causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D);
    await compare(`attention ${[B, H, T, S, hd]}`, [q, k, v], withGrads(f, 3, r), withGrads(c, 3, r));
  }
});

test('causalAttentionMasked: left padding, a query that sees no key, with gradients', async () => {
  const [B, H, T, S, hd] = [3, 2, 4, 6, 4];
  const mask: Arr = { shape: [B, S], data: new Int32Array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1]), dtype: 'bool' };
  const q = randn(rng, [B, H, T, hd]);
  const k = randn(rng, [B, H, S, hd]);
  const v = randn(rng, [B, H, S, hd]);
  const r = randn(rng, [B, H, T, hd]);
  const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, m: tf.Tensor) => ops.causalAttentionMasked(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, m as tf.Tensor2D);
  const c = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, m: tf.Tensor) => ops.composite.causalAttentionMasked(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, m as tf.Tensor2D);
  await compare('masked attention', [q, k, v, mask], withGrads(f, 3, r), withGrads(c, 3, r));
});

test('crossEntropy: weighted mean over rows, zero-weight rows, odd vocabulary, with gradients', async () => {
  for (const [N, V] of [
    [10, 13],
    [33, 512],
  ]) {
    const logits = randn(rng, [N, V], 3);
    const targets = randInt(rng, [N], 0, V - 1);
    const weights: Arr = { shape: [N], data: new Float32Array(N) };
    for (let i = 0; i < N; i++) weights.data[i] = i % 4 === 0 ? 0 : rng.uniform(0.2, 2);
    const one: Arr = { shape: [], data: new Float32Array([1.5]) };
    const f = (z: tf.Tensor, w: tf.Tensor, t: tf.Tensor) => ops.crossEntropy(z as tf.Tensor2D, t as tf.Tensor1D, w as tf.Tensor1D);
    const c = (z: tf.Tensor, w: tf.Tensor, t: tf.Tensor) => ops.composite.crossEntropy(z as tf.Tensor2D, t as tf.Tensor1D, w as tf.Tensor1D);
    await compare(`crossEntropy [${N}, ${V}]`, [logits, weights, targets], withGrads(f, 2, one), withGrads(c, 2, one));
  }
});

test('linearFused: residual + x W + b + scale (x Aᵀ) Bᵀ in every combination, with gradients for all but the frozen W', async () => {
  const [N, IN, OUT, r] = [7, 6, 10, 3];
  const x = randn(rng, [N, IN]);
  const w = randn(rng, [IN, OUT]);
  const b = randn(rng, [OUT]);
  const A = randn(rng, [r, IN]);
  const B = randn(rng, [OUT, r]);
  const res = randn(rng, [N, OUT]);
  const weights = randn(rng, [N, OUT]);
  for (const withB of [false, true]) {
    for (const withLowRank of [false, true]) {
      for (const withRes of [false, true]) {
        // The (plain, frozen) weight goes last and gets no gradient.
        const inputs = [x, ...(withB ? [b] : []), ...(withLowRank ? [A, B] : []), ...(withRes ? [res] : []), w];
        const make = (impl: typeof ops.linearFused) => (...t: tf.Tensor[]) => {
          const rest = t.slice();
          const xt = rest.shift() as tf.Tensor2D;
          const bias = withB ? (rest.shift() as tf.Tensor1D) : undefined;
          const lowRank = withLowRank ? { A: rest.shift() as tf.Tensor2D, B: rest.shift() as tf.Tensor2D, scale: 2 } : undefined;
          const residual = withRes ? (rest.shift() as tf.Tensor2D) : undefined;
          return impl(xt, rest.shift() as tf.Tensor2D, { b: bias, lowRank, residual });
        };
        await compare(`linearFused b=${withB} lowRank=${withLowRank} residual=${withRes}`, inputs, withGrads(make(ops.linearFused), inputs.length - 1, weights), withGrads(make(ops.composite.linearFused), inputs.length - 1, weights));
      }
    }
  }
});

test('causalSelfAttention from the fused projection equals split + heads + causalAttention + merge, with gradient', async () => {
  for (const [B, T, D, H] of [
    [2, 6, 12, 3],
    [3, 9, 16, 2],
  ]) {
    const qkv = randn(rng, [B * T, 3 * D]);
    const r = randn(rng, [B * T, D]);
    await compare(
      `self-attention ${[B, T, D, H]}`,
      [qkv],
      withGrads((x) => ops.causalSelfAttention(x as tf.Tensor2D, B, H), 1, r),
      withGrads((x) => ops.composite.causalSelfAttention(x as tf.Tensor2D, B, H), 1, r),
    );
  }
});

test('a fused GPT-2-style block step gives the composite loss and adapter gradients', async () => {
  const [B, T, D, H, r] = [2, 5, 8, 2, 3];
  const ids = randInt(rng, [B * T], 0, 15);
  const inputs = [randn(rng, [16, D], 0.5), randn(rng, [D, 3 * D], 0.3), randn(rng, [r, D], 0.3), randn(rng, [3 * D, r], 0.3), randn(rng, [D, 4 * D], 0.3), randn(rng, [4 * D, D], 0.3), ids];
  const step = (useOps: typeof ops.composite) => (wte: tf.Tensor, wa: tf.Tensor, A: tf.Tensor, Bm: tf.Tensor, wf: tf.Tensor, wp: tf.Tensor, id: tf.Tensor) => {
    const g = tf.ones([D]) as tf.Tensor1D;
    const z = tf.zeros([D]) as tf.Tensor1D;
    const loss = (A: tf.Tensor, Bm: tf.Tensor) => {
      const x = tf.gather(wte, id) as tf.Tensor2D;
      const h = useOps.layerNorm(x, g, z, 1e-5) as tf.Tensor2D;
      const qkv = tf.add(useOps.linear(h, wa as tf.Tensor2D), tf.mul(tf.matMul(tf.matMul(h, A, false, true), Bm, false, true), 2));
      const [q, k, v] = tf.split(qkv, 3, 1).map((t) => t.reshape([B, T, H, D / H]).transpose([0, 2, 1, 3]) as tf.Tensor4D);
      const a = useOps.causalAttention(q, k, v).transpose([0, 2, 1, 3]).reshape([B * T, D]);
      const x2 = tf.add(x, a) as tf.Tensor2D;
      const m = useOps.linear(useOps.geluTanh(useOps.linear(useOps.layerNorm(x2, g, z, 1e-5) as tf.Tensor2D, wf as tf.Tensor2D)) as tf.Tensor2D, wp as tf.Tensor2D);
      const logits = useOps.linearT(tf.add(x2, m) as tf.Tensor2D, wte as tf.Tensor2D);
      return useOps.crossEntropy(logits, id as tf.Tensor1D, tf.ones([B * T]) as tf.Tensor1D);
    };
    const { value, grads } = tf.valueAndGrads(loss)([A, Bm]);
    return [value, ...grads];
  };
  const fusedOps = { ...ops.composite, linear: ops.linear, linearT: ops.linearT, layerNorm: ops.layerNorm, geluTanh: ops.geluTanh, causalAttention: ops.causalAttention, crossEntropy: ops.crossEntropy };
  const ref = await runOn('cpu', inputs, step(ops.composite));
  const got = await runOn(FAST_BACKEND, inputs, step(fusedOps));
  assertClose(got, ref, RTOL, ATOL, 'block step');
});

test('adamwUpdate: the fused kernel (SIMD and JavaScript loops) is bit-identical to the composite on tfjs cpu (decay on/off, with/without a gradient scale)', async () => {
  const shape = [37, 5];
  const inputs = [randn(rng, shape), randn(rng, shape, 0.1), randn(rng, shape, 0.01), randn(rng, shape), { shape: [], data: new Float32Array([0.37]) }];
  // v is a second moment: non-negative.
  inputs[2].data = (inputs[2].data as Float32Array).map(Math.abs);
  for (const weightDecay of [0, 0.01]) {
    for (const scaled of [false, true]) {
      const t = 3;
      const o = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, biasCorrection1: 1 - 0.9 ** t, biasCorrection2: 1 - 0.999 ** t };
      const f = (p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, s: tf.Tensor) => ops.adamwUpdate(p, m, v, g, o, scaled ? (s as tf.Scalar) : undefined);
      const ref = await runOn('cpu', inputs, (...xs) => ops.composite.adamwUpdate(xs[0], xs[1], xs[2], xs[3], o, scaled ? (xs[4] as tf.Scalar) : undefined));
      for (const simd of [true, false]) {
        setSimdForTesting(simd);
        try {
          const got = await runOn(FAST_BACKEND, inputs, f as (...xs: tf.Tensor[]) => tf.Tensor[]);
          assertClose(got, ref, 0, 0, `adamw decay ${weightDecay} scaled ${scaled} simd ${simd}`);
          assert.ok(got[0].data.some((x, i) => x !== inputs[0].data[i]), 'the update moved p');
        } finally {
          setSimdForTesting(true);
        }
      }
    }
  }
});

test('AdamW optimizer with clipping: the fast engine follows plain tfjs cpu over several steps', async () => {
  const { createOptimizer } = await import('../src/train/optimizer.js');
  const init = [randn(rng, [8, 16], 0.1), randn(rng, [24, 8], 0.1)];
  const grads = [0, 1, 2].map(() => init.map((a) => randn(rng, a.shape)));
  const run = (backend: string) =>
    runOn(backend, init, (...xs) => {
      const vars = xs.map((x) => tf.variable(x));
      const opt = createOptimizer(vars, { kind: 'adamw', betas: [0.9, 0.999], weightDecay: 0.01, gradClip: 0.5 });
      for (const step of grads) tf.tidy(() => opt.step(step.map((g) => tf.tensor(g.data, g.shape)), 1e-2));
      opt.finish();
      const outs = vars.map((v) => v.clone());
      vars.forEach((v) => v.dispose());
      return outs;
    });
  const ref = await run('cpu');
  const got = await run(FAST_BACKEND);
  assertClose(got, ref, 1e-6, 1e-7, 'three clipped AdamW steps');
  assert.ok(Math.abs(got[0].data[0] - init[0].data[0]) > 1e-4, 'the variables moved');
});
