/**
 * Backend selection (initBackend) and the fast engine's supporting pieces: the buffer pool's
 * safety rules and the SIMD module's exp.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { AUTO_ORDER, initBackend } from '../src/engine/backend.js';
import { getBlas } from '../src/engine/blas.js';
import { BufferPool, capacityFor } from '../src/engine/buffer-pool.js';
import { FAST_BACKEND } from '../src/engine/fast-backend.js';
import { getSimd } from '../src/engine/simd/runtime.js';
import { probeAdapter } from '../src/engine/webgpu-backend.js';
import { UsageError } from '../src/util/errors.js';

test('explicit cpu starts the fast engine; tfjs-cpu the plain tfjs backend', async () => {
  assert.deepEqual(await initBackend('cpu'), { name: 'cpu' });
  assert.equal(tf.getBackend(), FAST_BACKEND);
  assert.equal(getBlas().kind, 'openblas', 'nblas/OpenBLAS is installed here');
  assert.deepEqual(await initBackend('tfjs-cpu'), { name: 'tfjs-cpu' });
  assert.equal(tf.getBackend(), 'cpu');
});

test('auto picks the fast engine here, first in its order', async () => {
  assert.equal(AUTO_ORDER[0], 'cpu');
  const choice = await initBackend('auto');
  assert.equal(choice.name, 'cpu');
  assert.equal(tf.getBackend(), FAST_BACKEND);
});

test('an unavailable or unknown backend is a one-line usage error', async () => {
  for (const name of [...(probeAdapter().adapter ? [] : ['webgpu']), 'tensorflow', 'gpu'] as const) {
    await assert.rejects(
      initBackend(name as Parameters<typeof initBackend>[0]),
      (e: unknown) => e instanceof UsageError && e.exitCode === 2 && !e.message.includes('\n') && e.message.startsWith(`--backend ${name}`),
    );
  }
});

test('buffer pool: reuses released buffers by exact size, never one handed out or still viewed', () => {
  const pool = new BufferPool();
  const a = pool.alloc(5000);
  pool.hold(a);
  pool.release(a);
  assert.equal(pool.alloc(5000).buffer, a.buffer, 'a released buffer is reused');
  pool.hold(a);
  const view = a.subarray(100, 200);
  pool.hold(view); // a slice's data shares the buffer
  pool.release(a);
  assert.notEqual(pool.alloc(5000).buffer, a.buffer, 'still held by the view');
  pool.release(view);
  assert.equal(pool.alloc(5000).buffer, a.buffer, 'free once the view is gone');
  // dataSync() of a view on a larger pooled buffer gets its own copy; the buffer stays reusable.
  pool.hold(a);
  const copy = pool.expose(a);
  assert.notEqual(copy.buffer, a.buffer);
  assert.equal(copy.length, 5000);
  pool.release(a);
  assert.equal(pool.alloc(5000).buffer, a.buffer);
  // A whole pooled buffer handed out is never reused.
  const w = pool.alloc(4096);
  assert.equal(w.length, w.buffer.byteLength / 4);
  pool.hold(w);
  assert.equal(pool.expose(w), w);
  pool.release(w);
  assert.notEqual(pool.alloc(4096).buffer, w.buffer, 'an exposed buffer is never reused');
  // Sizes that creep up share a capacity class.
  assert.equal(capacityFor(81 * 2048), capacityFor(82 * 2048));
  assert.equal(pool.alloc(10).length, 10, 'small arrays bypass the pool');
  const z = pool.alloc(4096);
  z.fill(3);
  pool.hold(z);
  pool.release(z);
  assert.ok(pool.zeros(4096).every((v) => v === 0));
});

test('buffer pool on the fast engine: dataSync() results survive later kernels', async () => {
  await initBackend('cpu');
  const x = tf.range(0, 8192, 1, 'float32');
  const y = tf.mul(x, 2);
  const host = y.dataSync();
  y.dispose();
  for (let i = 0; i < 5; i++) tf.tidy(() => tf.mul(x, 3).dataSync());
  assert.equal(host[4000], 8000);
  x.dispose();
});

test('SIMD exp matches Math.exp to float32 accuracy over its range', () => {
  const simd = getSimd();
  assert.ok(simd, 'WebAssembly SIMD is available in Node 20');
  const n = 4096;
  const xs = new Float32Array(n);
  for (let i = 0; i < n; i++) xs[i] = -100 + (188 * i) / (n - 1);
  const heap = simd.reserve(n);
  heap.set(xs);
  simd.fn.expInPlace(0, n);
  const out = simd.heap;
  for (let i = 0; i < n; i++) {
    const ref = Math.exp(xs[i]);
    if (xs[i] < -87.3) assert.equal(out[i], 0);
    else if (xs[i] <= 88.3) assert.ok(Math.abs(out[i] - ref) <= 3e-7 * ref, `exp(${xs[i]}) = ${out[i]}, expected ${ref}`);
  }
});
