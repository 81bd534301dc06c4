/**
 * The Llama-family ops of src/engine/ops.ts (rmsNorm, rotary, swiglu, grouped-query selfAttention
 * and its KV-cache decoding): the composites against plain loops written from Hugging Face's
 * definitions, the fast engine against the composites (values and gradients), and cached decoding
 * (in-place store and tensor cache) against attention over the whole sequence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ops from '../src/engine/ops.js';
import { setSimdForTesting } from '../src/engine/simd/runtime.js';
import { ConcatKVCache, StoreKVCache, type KVCache } from '../src/model/kv-cache.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, FAST_BACKEND, randn, runOn, type Arr } from './engine-helpers.js';

const rng = new Rng(5, 'engine-llama-ops');
const RTOL = 1e-4;
const ATOL = 1e-5;

/** fused(...) on the fast engine (SIMD on and off) vs reference(...) on tfjs cpu. */
async function compare(what: string, inputs: Arr[], fused: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], reference: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<void> {
  const ref = await runOn('cpu', inputs, reference);
  for (const simd of [true, false]) {
    setSimdForTesting(simd);
    try {
      assertClose(await runOn(FAST_BACKEND, inputs, fused), ref, RTOL, ATOL, `${what} (simd ${simd})`);
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

const close = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) => {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 + 1e-4 * Math.abs(want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
};

test('composites follow Hugging Face: RMSNorm (eps inside, weight after), rotate-half rotary per row, silu(gate)·up', async () => {
  await runOn('cpu', [], () => {
    const [N, D] = [3, 10];
    const x = randn(rng, [N, D]);
    const w = randn(rng, [D]);
    const eps = 1e-2;
    const want = new Float32Array(N * D);
    for (let n = 0; n < N; n++) {
      let ss = 0;
      for (let j = 0; j < D; j++) ss += x.data[n * D + j] ** 2;
      const r = 1 / Math.sqrt(ss / D + eps);
      for (let j = 0; j < D; j++) want[n * D + j] = x.data[n * D + j] * r * w.data[j];
    }
    close(ops.composite.rmsNorm(tf.tensor(x.data, x.shape), tf.tensor1d(w.data), eps).dataSync(), want, 'rmsNorm');

    const [H, hd] = [2, 6];
    const xr = randn(rng, [N, H * hd]);
    const cos = randn(rng, [N, hd]);
    const sin = randn(rng, [N, hd]);
    const wr = new Float32Array(N * H * hd);
    for (let n = 0; n < N; n++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < hd; i++) {
          const at = n * H * hd + h * hd;
          const rot = i < hd / 2 ? -xr.data[at + i + hd / 2] : xr.data[at + i - hd / 2];
          wr[at + i] = xr.data[at + i] * cos.data[n * hd + i] + rot * sin.data[n * hd + i];
        }
      }
    }
    const t2 = (a: Arr) => tf.tensor2d(a.data, a.shape as [number, number]);
    close(ops.composite.rotary(t2(xr), t2(cos), t2(sin), H).dataSync(), wr, 'rotary');

    const g = randn(rng, [N, D]);
    const u = randn(rng, [N, D]);
    const ws = g.data.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u.data[i]);
    close(ops.composite.swiglu(t2(g), t2(u)).dataSync(), ws, 'swiglu');
    return [];
  });
});

test('grouped-query selfAttention equals multi-head attention with each kv head repeated (repeat_kv)', async () => {
  const [B, T, H, KVH, hd] = [2, 5, 4, 2, 3];
  const q = randn(rng, [B * T, H * hd]);
  const k = randn(rng, [B * T, KVH * hd]);
  const v = randn(rng, [B * T, KVH * hd]);
  await runOn('cpu', [q, k, v], (qt, kt, vt) => {
    // Repeat by hand: kv head g becomes query heads 2g and 2g + 1.
    const rep = (x: tf.Tensor) => {
      const parts = tf.split(x, KVH, 1);
      return tf.concat(parts.flatMap((p) => [p, p]), 1) as tf.Tensor2D;
    };
    const got = ops.composite.selfAttention(qt as tf.Tensor2D, kt as tf.Tensor2D, vt as tf.Tensor2D, B, H, KVH);
    const want = ops.composite.selfAttention(qt as tf.Tensor2D, rep(kt), rep(vt), B, H, H);
    close(got.dataSync(), want.dataSync(), 'gqa');
    // And kvHeads = heads is GPT-2's causalSelfAttention on the concatenated projection.
    const mha = ops.composite.causalSelfAttention(tf.concat([qt, rep(kt), rep(vt)], 1) as tf.Tensor2D, B, H);
    close(want.dataSync(), mha.dataSync(), 'mha');
    return [];
  });
  assert.throws(() => ops.selfAttention(tf.zeros([4, 12]) as tf.Tensor2D, tf.zeros([4, 9]) as tf.Tensor2D, tf.zeros([4, 9]) as tf.Tensor2D, 1, 4, 3), /multiple of kv heads/);
});

test('fast engine: rmsNorm, rotary, swiglu and grouped selfAttention give the composite values and gradients', async () => {
  for (const shape of [[7, 10], [5, 33], [2, 3, 64]]) {
    const D = shape[shape.length - 1];
    const x = randn(rng, shape);
    const w = randn(rng, [D]);
    const r = randn(rng, shape);
    const f = (impl: typeof ops.rmsNorm) => withGrads((x, w) => impl(x, w as tf.Tensor1D, 1e-5), 2, r);
    await compare(`rmsNorm ${shape}`, [x, w], f(ops.rmsNorm), f(ops.composite.rmsNorm));
  }
  for (const [N, H, hd] of [[6, 3, 6], [4, 2, 8]]) {
    const r = randn(rng, [N, H * hd]);
    const f = (impl: typeof ops.rotary) => withGrads((x, c, s) => impl(x as tf.Tensor2D, c as tf.Tensor2D, s as tf.Tensor2D, H), 1, r);
    await compare(`rotary ${[N, H, hd]}`, [randn(rng, [N, H * hd]), randn(rng, [N, hd]), randn(rng, [N, hd])], f(ops.rotary), f(ops.composite.rotary));
  }
  for (const [N, F] of [[5, 7], [3, 64]]) {
    const r = randn(rng, [N, F]);
    const f = (impl: typeof ops.swiglu) => withGrads((g, u) => impl(g as tf.Tensor2D, u as tf.Tensor2D), 2, r);
    await compare(`swiglu ${[N, F]}`, [randn(rng, [N, F], 3), randn(rng, [N, F])], f(ops.swiglu), f(ops.composite.swiglu));
  }
  for (const [B, T, H, KVH, hd, masked] of [
    [2, 6, 4, 2, 3, true],
    [1, 9, 6, 2, 8, false],
    [3, 5, 4, 4, 4, true],
    [2, 7, 3, 1, 5, false],
  ] as [number, number, number, number, number, boolean][]) {
    const inputs = [randn(rng, [B * T, H * hd]), randn(rng, [B * T, KVH * hd]), randn(rng, [B * T, KVH * hd])];
    // Left padding: row b hides its first b keys.
    const mask: Arr = { data: new Float32Array(B * T).map((_, i) => (i % T >= Math.floor(i / T) ? 1 : 0)), shape: [B, T] };
    const r = randn(rng, [B * T, H * hd]);
    const f = (impl: typeof ops.selfAttention) =>
      withGrads((q, k, v, m) => impl(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, B, H, KVH, m ? (tf.cast(m, 'bool') as tf.Tensor2D) : undefined), 3, r);
    const ins = masked ? [...inputs, mask] : inputs;
    await compare(`selfAttention ${[B, T, H, KVH, hd]} masked ${masked}`, ins, f(ops.selfAttention), f(ops.composite.selfAttention));
  }
});

/**
 * Decoding one attention layer pair through a cache: a left-padded prompt of T0 positions, then
 * single positions, two rows kept (in a new order) midway, past 64 positions so the in-place store
 * regrows. q, k, v of every position are fixed random arrays; returns every step's output.
 */
function decodeSteps(cache: KVCache, sh: { H: number; KVH: number; hd: number }, data: { q: Arr; k: Arr; v: Arr }, total: number): tf.Tensor[] {
  const { H, KVH, hd } = sh;
  const pad = [0, 2, 1];
  const T0 = 5;
  const rowsOf = (a: Arr, w: number, rows: number[], t0: number, T: number) => {
    const outp = new Float32Array(rows.length * T * w);
    rows.forEach((b, j) => outp.set(a.data.subarray((b * total + t0) * w, (b * total + t0 + T) * w), j * T * w));
    return tf.tensor2d(outp, [rows.length * T, w]);
  };
  const mask = (S: number, p: number[]) => tf.tensor2d(p.flatMap((pj) => Array.from({ length: S }, (_, s) => (s >= pj ? 1 : 0))), [p.length, S], 'bool');
  let rows = [0, 1, 2];
  const outs: tf.Tensor[] = [];
  for (let t0 = 0; t0 < total; ) {
    if (t0 === 20) {
      cache.selectRows([2, 0]);
      rows = [2, 0];
    }
    const T = t0 === 0 ? T0 : 1;
    const m = mask(t0 + T, rows.map((b) => pad[b]));
    for (let layer = 0; layer < 2; layer++) {
      outs.push(cache.attendGrouped(layer, rowsOf(data.q, H * hd, rows, t0, T), rowsOf(data.k, KVH * hd, rows, t0, T), rowsOf(data.v, KVH * hd, rows, t0, T), rows.length, H, m));
    }
    t0 += T;
  }
  assert.equal(cache.length, total);
  return outs;
}

test('grouped-query decoding: the in-place KV store (kv heads only) equals the tensor cache and whole-sequence attention', async () => {
  const total = 70;
  for (const sh of [
    { H: 4, KVH: 2, hd: 8 },
    { H: 6, KVH: 2, hd: 6 },
    { H: 2, KVH: 2, hd: 4 },
  ]) {
    const data = { q: randn(rng, [3 * total, sh.H * sh.hd]), k: randn(rng, [3 * total, sh.KVH * sh.hd]), v: randn(rng, [3 * total, sh.KVH * sh.hd]) };
    const run = (store: boolean) => () => {
      const cache = store ? new StoreKVCache(2, sh.KVH, sh.hd, total) : new ConcatKVCache(2);
      const outs = decodeSteps(cache, sh, data, total);
      cache.dispose();
      return outs;
    };
    const ref = await runOn('cpu', [], run(false));
    assertClose(await runOn(FAST_BACKEND, [], run(true)), ref, RTOL, ATOL, `StoreKVCache ${JSON.stringify(sh)}`);
    setSimdForTesting(false);
    try {
      assertClose(await runOn(FAST_BACKEND, [], run(true)), ref, RTOL, ATOL, `StoreKVCache, no SIMD ${JSON.stringify(sh)}`);
    } finally {
      setSimdForTesting(true);
    }
    // The tensor cache against attention over the whole sequence, at the positions that see a key.
    await runOn('cpu', [], () => {
      const pad = [0, 2, 1];
      const mask = tf.tensor2d(pad.map((p) => Array.from({ length: total }, (_, s) => (s >= p ? 1 : 0))), [3, total], 'bool');
      const t2 = (a: Arr) => tf.tensor2d(a.data, a.shape as [number, number]);
      const full = ops.composite.selfAttention(t2(data.q), t2(data.k), t2(data.v), 3, sh.H, sh.KVH, mask).arraySync() as number[][];
      const outs = ref.filter((_, i) => i % 2 === 0).map((r) => r.data);
      const W = sh.H * sh.hd;
      const check = (got: ArrayLike<number>, b: number, t: number, j: number) => {
        if (t < pad[b]) return;
        close(Array.from(got).slice(j * W, (j + 1) * W), full[b * total + t], `b ${b} t ${t}`);
      };
      for (let b = 0; b < 3; b++) for (let t = 0; t < 5; t++) check(outs[0], b, t, b * 5 + t);
      for (let t = 5; t < total; t++) {
        const rows = t < 20 ? [0, 1, 2] : [2, 0];
        rows.forEach((b, j) => check(outs[t - 4], b, t, j));
      }
      return [];
    });
  }
});
