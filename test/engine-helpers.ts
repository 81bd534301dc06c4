/**
 * Shared by the engine tests (test/engine-*.test.ts): run the same computation on plain tfjs cpu
 * and on the fast engine and compare.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerFastBackend, FAST_BACKEND } from '../src/engine/fast-backend.js';
import { Rng } from '../src/util/rng.js';

export { FAST_BACKEND };

export interface Arr {
  shape: number[];
  data: Float32Array | Int32Array;
  dtype?: 'float32' | 'int32' | 'bool';
}

export function randn(rng: Rng, shape: number[], scale = 1): Arr {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal() * scale;
  return { shape, data };
}

export function randInt(rng: Rng, shape: number[], lo: number, hi: number): Arr {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.int(lo, hi);
  return { shape, data, dtype: 'int32' };
}

export function toTensor(a: Arr): tf.Tensor {
  return tf.tensor(a.data, a.shape, a.dtype ?? (a.data instanceof Int32Array ? 'int32' : 'float32'));
}

export interface Result {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/**
 * Run `f` on backend `name` with fresh tensors made from `inputs`; returns host copies of the
 * outputs (a tensor or a list of tensors).
 */
export async function runOn(name: string, inputs: Arr[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  if (name === FAST_BACKEND) registerFastBackend();
  assert.ok(await tf.setBackend(name), `backend ${name} did not start`);
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false; // no "install tfjs-node" banner
  const xs = inputs.map(toTensor);
  const r = tf.tidy(() => f(...xs));
  const list = Array.isArray(r) ? r : [r];
  const outs = list.map((t) => ({ shape: t.shape.slice(), data: (t.dataSync() as Float32Array).slice() }));
  tf.dispose(list);
  tf.dispose(xs);
  return outs;
}

/** Same computation on tfjs 'cpu' and the fast engine; asserts equal shapes and close values. */
export async function sameOnBoth(inputs: Arr[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], rtol = 1e-5, atol = 1e-6, what = ''): Promise<void> {
  const ref = await runOn('cpu', inputs, f);
  const got = await runOn(FAST_BACKEND, inputs, f);
  assertClose(got, ref, rtol, atol, what);
}

export function assertClose(got: Result[], ref: Result[], rtol: number, atol: number, what = ''): void {
  assert.equal(got.length, ref.length, `${what}: number of outputs`);
  for (let k = 0; k < ref.length; k++) {
    assert.deepEqual(got[k].shape, ref[k].shape, `${what}: output ${k} shape`);
    assert.equal(got[k].data.length, ref[k].data.length, `${what}: output ${k} size`);
    for (let i = 0; i < ref[k].data.length; i++) {
      const a = got[k].data[i];
      const b = ref[k].data[i];
      if (Number.isNaN(b)) {
        assert.ok(Number.isNaN(a), `${what}: output ${k}[${i}] = ${a}, expected NaN`);
        continue;
      }
      const tol = atol + rtol * Math.abs(b);
      assert.ok(Math.abs(a - b) <= tol, `${what}: output ${k}[${i}] = ${a}, expected ${b} (|diff| ${Math.abs(a - b)} > ${tol})`);
    }
  }
}
