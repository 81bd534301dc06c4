/**
 * Every tfjs kernel the fast engine replaces, against tfjs's own cpu kernel on random shapes:
 * forward values, the broadcasting and layout cases each fast path covers (and ones it leaves to
 * the fallback), and gradients through them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { jsBlas, setBlasForTesting } from '../src/engine/blas.js';
import { Rng } from '../src/util/rng.js';
import { randInt, randn, sameOnBoth } from './engine-helpers.js';

const rng = new Rng(7, 'engine-kernels');

test('BatchMatMul: 2-D, batched, broadcast batch dims, all transpose flags', async () => {
  const cases: [number[], number[]][] = [
    [[5, 7], [7, 3]],
    [[1016 / 8, 33], [33, 17]],
    [[3, 5, 7], [3, 7, 4]],
    [[3, 5, 7], [7, 4]],
    [[5, 7], [2, 7, 4]],
    [[2, 3, 4, 6], [2, 3, 6, 5]],
    [[4, 2, 3, 6], [1, 2, 6, 5]],
    [[1, 2, 3, 6], [4, 2, 6, 5]],
    [[1, 6], [6, 1]],
  ];
  for (const [sa, sb] of cases) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = sa.slice();
        const b = sb.slice();
        if (ta) [a[a.length - 2], a[a.length - 1]] = [a[a.length - 1], a[a.length - 2]];
        if (tb) [b[b.length - 2], b[b.length - 1]] = [b[b.length - 1], b[b.length - 2]];
        await sameOnBoth([randn(rng, a), randn(rng, b)], (x, y) => tf.matMul(x, y, ta, tb), 1e-5, 1e-5, `matMul [${a}]x[${b}] ${ta} ${tb}`);
      }
    }
  }
});

test('BatchMatMul: batch dims broadcast on both sides (tfjs cpu mislabels this case; compare with explicit broadcast)', async () => {
  const a = randn(rng, [2, 1, 4, 6]);
  const b = randn(rng, [1, 3, 6, 5]);
  const { runOn, FAST_BACKEND, assertClose } = await import('./engine-helpers.js');
  const got = await runOn(FAST_BACKEND, [a, b], (x, y) => tf.matMul(x, y));
  const ref = await runOn('cpu', [a, b], (x, y) => tf.matMul(tf.broadcastTo(x, [2, 3, 4, 6]), tf.broadcastTo(y, [2, 3, 6, 5])));
  assertClose(got, ref, 1e-5, 1e-5, 'two-sided broadcast');
});

test('BatchMatMul: int32 falls back to tfjs, shape errors match', async () => {
  await sameOnBoth([randInt(rng, [3, 4], -5, 5), randInt(rng, [4, 2], -5, 5)], (x, y) => tf.matMul(x, y), 0, 0, 'int matMul');
  const { runOn, FAST_BACKEND } = await import('./engine-helpers.js');
  await assert.rejects(runOn(FAST_BACKEND, [randn(rng, [2, 3]), randn(rng, [4, 2])], (x, y) => tf.matMul(x, y)), /inner shapes/);
});

test('BatchMatMul: the JavaScript GEMM (no OpenBLAS) gives the same products', async () => {
  setBlasForTesting(jsBlas('test'));
  try {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = ta ? [9, 6] : [6, 9];
      const b = tb ? [5, 9] : [9, 5];
      await sameOnBoth([randn(rng, [2, ...a]), randn(rng, [2, ...b])], (x, y) => tf.matMul(x, y, ta, tb), 1e-5, 1e-5, `js gemm ${ta} ${tb}`);
    }
  } finally {
    setBlasForTesting(undefined);
  }
});

test('Add, Sub, Multiply, RealDiv: same shape, row/col/scalar broadcasts on either side, fallback cases', async () => {
  const pairs: [number[], number[]][] = [
    [[6, 5], [6, 5]],
    [[6, 5], [5]],
    [[5], [6, 5]],
    [[2, 3, 5], [1, 3, 5]],
    [[2, 3, 5], [2, 3, 1]],
    [[2, 3, 1], [2, 3, 5]],
    [[6, 5], []],
    [[], [6, 5]],
    [[6, 5], [1, 1]],
    [[4, 1], [1, 5]], // outer product: fallback
    [[2, 3, 5], [2, 1, 5]], // interior broadcast: fallback
    [[0, 5], [5]],
    // Large enough for the OpenBLAS paths (saxpy, sger, sscal):
    [[80, 64], [80, 64]],
    [[80, 64], [64]],
    [[64], [80, 64]],
    [[80, 64], []],
    [[], [80, 64]],
    [[80, 64], [80, 1]],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['add', tf.add],
    ['sub', tf.sub],
    ['mul', tf.mul],
    ['div', tf.div],
  ];
  for (const [sa, sb] of pairs) {
    for (const [name, op] of ops) {
      const b = randn(rng, sb);
      if (name === 'div') for (let i = 0; i < b.data.length; i++) b.data[i] = Math.abs(b.data[i]) + 0.5;
      await sameOnBoth([randn(rng, sa), b], op, 1e-6, 1e-7, `${name} [${sa}] [${sb}]`);
    }
  }
  // int32 goes to tfjs's kernel
  await sameOnBoth([randInt(rng, [3, 4], -9, 9), randInt(rng, [4], -9, 9)], tf.add, 0, 0, 'int add');
});

test('Transpose: head split/merge, 2-D, size-1 axes, identity, int32', async () => {
  const cases: [number[], number[]][] = [
    [[2, 5, 3, 4], [0, 2, 1, 3]],
    [[2, 3, 5, 4], [0, 2, 1, 3]],
    [[7, 9], [1, 0]],
    [[2, 3, 4], [2, 0, 1]],
    [[2, 3, 4], [1, 2, 0]],
    [[1, 3, 1, 4], [2, 3, 0, 1]],
    [[3, 4, 5], [0, 1, 2]],
    [[2, 3, 4, 5, 2], [4, 1, 3, 0, 2]],
  ];
  for (const [shape, perm] of cases) {
    await sameOnBoth([randn(rng, shape)], (x) => tf.transpose(x, perm), 0, 0, `transpose [${shape}] [${perm}]`);
  }
  await sameOnBoth([randInt(rng, [3, 4, 2], 0, 100)], (x) => tf.transpose(x, [2, 0, 1]), 0, 0, 'int transpose');
});

test('Slice and split: contiguous views, strided copies, negative sizes, int32', async () => {
  const x = randn(rng, [4, 6, 10]);
  const slices: [number[], number[]][] = [
    [[1, 0, 0], [2, 6, 10]],
    [[0, 2, 0], [4, 3, 10]],
    [[0, 0, 3], [4, 6, 4]],
    [[2, 5, 9], [1, 1, 1]],
    [[1, 1, 1], [-1, -1, -1]],
    [[0, 0, 0], [4, 6, 0]],
  ];
  for (const [b, s] of slices) await sameOnBoth([x], (t) => tf.slice(t, b, s), 0, 0, `slice [${b}] [${s}]`);
  await sameOnBoth([randn(rng, [8, 24])], (t) => tf.split(t, 3, 1), 0, 0, 'split 3 axis 1');
  await sameOnBoth([randn(rng, [6, 4, 5])], (t) => tf.split(t, [1, 2, 3], 0), 0, 0, 'split sizes axis 0');
  await sameOnBoth([randn(rng, [2, 9, 3])], (t) => tf.split(t, [4, -1], 1), 0, 0, 'split -1 axis 1');
  await sameOnBoth([randInt(rng, [4, 6], 0, 50)], (t) => tf.slice(t, [1, 2], [2, 3]), 0, 0, 'int slice');
});

test('Concat along each axis, with empty inputs', async () => {
  await sameOnBoth([randn(rng, [2, 3, 4]), randn(rng, [2, 3, 4])], (a, b) => tf.concat([a, b], 0), 0, 0, 'concat 0');
  await sameOnBoth([randn(rng, [2, 3, 4, 5]), randn(rng, [2, 3, 1, 5])], (a, b) => tf.concat([a, b], 2), 0, 0, 'concat kv-cache');
  await sameOnBoth([randn(rng, [2, 3]), randn(rng, [2, 70]), randn(rng, [2, 1])], (a, b, c) => tf.concat([a, b, c], 1), 0, 0, 'concat 1');
  await sameOnBoth([randn(rng, [2, 0]), randn(rng, [2, 4])], (a, b) => tf.concat([a, b], 1), 0, 0, 'concat empty');
  await sameOnBoth([randInt(rng, [2, 2], 0, 9), randInt(rng, [2, 3], 0, 9)], (a, b) => tf.concat([a, b], 1), 0, 0, 'int concat');
});

test('GatherV2 on axis 0 and 1, and its gradient UnsortedSegmentSum', async () => {
  const table = randn(rng, [11, 70]);
  const ids = randInt(rng, [3, 5], 0, 10);
  await sameOnBoth([table, ids], (t, i) => tf.gather(t, i), 0, 0, 'gather axis 0');
  await sameOnBoth([randn(rng, [3, 11, 4]), randInt(rng, [6], 0, 10)], (t, i) => tf.gather(t, i, 1), 0, 0, 'gather axis 1');
  await sameOnBoth([table, ids], (t, i) => tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, i), tf.range(0, 70))))(t), 1e-6, 1e-6, 'gather grad');
  await sameOnBoth([randn(rng, [9, 5]), randInt(rng, [9], -1, 4)], (x, s) => tf.unsortedSegmentSum(x, s as tf.Tensor1D, 4), 1e-6, 1e-6, 'segment sum');
  const { runOn, FAST_BACKEND } = await import('./engine-helpers.js');
  await assert.rejects(runOn(FAST_BACKEND, [table, randInt(rng, [2], 11, 11)], (t, i) => tf.gather(t, i)), /not in \[0, 10\]/);
});

test('Sum over leading, trailing and middle axes, keepDims, fallback for split axes', async () => {
  const x = randn(rng, [3, 4, 5, 6]);
  const axes: (number | number[])[] = [0, 3, -1, [0, 1], [2, 3], [1, 2], [0, 1, 2, 3], [0, 2]];
  for (const ax of axes) {
    for (const keep of [false, true]) await sameOnBoth([x], (t) => tf.sum(t, ax, keep), 1e-6, 1e-6, `sum ${JSON.stringify(ax)} ${keep}`);
  }
});

test('gradients through the replaced kernels match tfjs cpu', async () => {
  const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
    const h = tf.add(tf.matMul(x, w), b); // [6, 12]
    const [p, q] = tf.split(h, 2, 1);
    const t = tf.transpose(tf.reshape(tf.mul(p, q), [2, 3, 2, 3]), [0, 2, 1, 3]);
    const c = tf.concat([t, tf.div(t, 2)], 3);
    return tf.sum(tf.mul(tf.sub(c, 0.5), c));
  };
  await sameOnBoth(
    [randn(rng, [6, 5]), randn(rng, [5, 12]), randn(rng, [12])],
    (x, w, b) => tf.grads(f)([x, w, b]),
    1e-5,
    1e-5,
    'composite grads',
  );
});

test('Square: float32 exactly as tfjs (odd sizes, a scalar), int32 through the fallback', async () => {
  for (const shape of [[], [1], [7], [33, 5], [2, 3, 4]]) await sameOnBoth([randn(rng, shape)], (x) => tf.square(x), 0, 0, `square [${shape}]`);
  await sameOnBoth([randInt(rng, [5, 3], -9, 9)], (x) => tf.square(x), 0, 0, 'int square');
  await sameOnBoth([randn(rng, [6, 4])], (x) => tf.grad((y: tf.Tensor) => tf.sum(tf.square(y)))(x), 0, 0, 'square gradient');
});
