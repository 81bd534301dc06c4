/**
 * Fused weighted token cross-entropy over a vocabulary: one pass per row computes logsumexp and
 * picks the target's logit, so no [N, V] log-softmax, one-hot or product is ever materialised.
 *
 *   loss = Σ_i w_i (lse_i − z_i[t_i]) / max(Σ_i w_i, 1e-9)
 *   dz_ij = dy · w_i / max(Σ w, 1e-9) · (softmax(z_i)_j − [j = t_i])
 *
 * The forward returns [loss, lse [N]]; the backward reuses lse.
 */
import * as tf from '@tensorflow/tfjs';
import { getSimd, type SimdRuntime } from '../simd/runtime.js';
import { fexp } from './fast-math.js';
import { alloc, zeros, f32, out, vals, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';
import { CROSS_ENTROPY, CROSS_ENTROPY_GRAD } from './names.js';

function check(logits: TensorInfo, targets: TensorInfo, weights: TensorInfo): [number, number] {
  const [N, V] = logits.shape;
  if (logits.shape.length !== 2 || targets.shape.length !== 1 || weights.shape.length !== 1 || targets.shape[0] !== N || weights.shape[0] !== N) {
    throw new Error(`cross entropy: logits [${logits.shape}], targets [${targets.shape}] and weights [${weights.shape}] must be [N, V], [N], [N]`);
  }
  return [N, V];
}

function totalWeight(w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i];
  return Math.max(s, 1e-9);
}

/** Rows staged per SIMD call: about 64 KB of logits. */
function rowsPerChunk(Vp: number): number {
  return Math.max(1, Math.floor(16384 / Vp));
}

/** Stage rows [r0, r0 + rows) of z into the heap with stride Vp, padding with −∞. */
function stage(heap: Float32Array, z: Float32Array, r0: number, rows: number, V: number, Vp: number): void {
  if (Vp === V) {
    heap.set(z.subarray(r0 * V, (r0 + rows) * V), 0);
    return;
  }
  for (let r = 0; r < rows; r++) {
    heap.set(z.subarray((r0 + r) * V, (r0 + r + 1) * V), r * Vp);
    if (Vp > V) heap.fill(-Infinity, r * Vp + V, (r + 1) * Vp);
  }
}

function logSumExpSimd(simd: SimdRuntime, z: Float32Array, N: number, V: number, lse: Float32Array): void {
  const Vp = (V + 3) & ~3;
  const R = rowsPerChunk(Vp);
  const heap = simd.reserve(R * Vp + 2 * R);
  const stats = R * Vp;
  for (let r0 = 0; r0 < N; r0 += R) {
    const rows = Math.min(R, N - r0);
    stage(heap, z, r0, rows, V, Vp);
    simd.fn.maxSumExp(0, rows, Vp, stats * 4);
    for (let r = 0; r < rows; r++) lse[r0 + r] = heap[stats + 2 * r] + Math.log(heap[stats + 2 * r + 1]);
  }
}

/** dz[i, :] = w_i · scale · softmax(z_i) for every row (the caller subtracts at the targets). */
function scaledSoftmaxSimd(
  simd: SimdRuntime,
  z: Float32Array,
  N: number,
  V: number,
  lse: Float32Array,
  w: ArrayLike<number>,
  scale: number,
  dz: Float32Array,
): void {
  const Vp = (V + 3) & ~3;
  const R = rowsPerChunk(Vp);
  const heap = simd.reserve(R * Vp + 2 * R);
  const lsePtr = R * Vp;
  const coefPtr = lsePtr + R;
  for (let r0 = 0; r0 < N; r0 += R) {
    const rows = Math.min(R, N - r0);
    stage(heap, z, r0, rows, V, Vp);
    for (let r = 0; r < rows; r++) {
      heap[lsePtr + r] = lse[r0 + r];
      heap[coefPtr + r] = w[r0 + r] * scale;
    }
    simd.fn.scaledSoftmax(0, rows, Vp, lsePtr * 4, coefPtr * 4);
    if (Vp === V) dz.set(heap.subarray(0, rows * V), r0 * V);
    else for (let r = 0; r < rows; r++) dz.set(heap.subarray(r * Vp, r * Vp + V), (r0 + r) * V);
  }
}

export function crossEntropyKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { logits, targets, weights } = args.inputs as Record<string, TensorInfo>;
  const [N, V] = check(logits, targets, weights);
  const z = f32(backend, logits);
  const t = vals(backend, targets);
  const w = vals(backend, weights);
  const lse = new Float32Array(N);
  const simd = getSimd();
  if (simd) logSumExpSimd(simd, z, N, V, lse);
  else {
    for (let i = 0; i < N; i++) {
      const base = i * V;
      let mx = -Infinity;
      for (let j = 0; j < V; j++) if (z[base + j] > mx) mx = z[base + j];
      let s = 0;
      for (let j = 0; j < V; j++) s += fexp(z[base + j] - mx);
      lse[i] = mx + Math.log(s);
    }
  }
  let acc = 0;
  for (let i = 0; i < N; i++) {
    const base = i * V;
    const l = lse[i];
    const wi = w[i];
    if (wi !== 0) {
      const ti = Math.trunc(t[i]);
      if (!(ti >= 0 && ti < V)) throw new Error(`cross entropy: target ${t[i]} at row ${i} is outside [0, ${V - 1}]`);
      acc += wi * (l - z[base + ti]);
    }
  }
  const loss = new Float32Array([acc / totalWeight(w)]);
  return [out(backend, [], loss), out(backend, [N], lse)];
}

export function crossEntropyGradKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { dy, logits, targets, weights, lse } = args.inputs as Record<string, TensorInfo>;
  const [N, V] = check(logits, targets, weights);
  const g = f32(backend, dy)[0];
  const z = f32(backend, logits);
  const t = vals(backend, targets);
  const w = vals(backend, weights);
  const l = f32(backend, lse);
  const simdPath = getSimd();
  const dz = simdPath ? alloc(backend, N * V) : zeros(backend, N * V);
  const scale = g / totalWeight(w);
  const simd = simdPath;
  if (simd) scaledSoftmaxSimd(simd, z, N, V, l, w, scale, dz);
  for (let i = 0; i < N; i++) {
    const c = w[i] * scale;
    if (c === 0) continue;
    const base = i * V;
    if (!simd) {
      const li = l[i];
      for (let j = 0; j < V; j++) dz[base + j] = c * fexp(z[base + j] - li);
    }
    dz[base + Math.trunc(t[i])] -= c;
  }
  return out(backend, logits.shape.slice(), dz);
}

export const crossEntropyGrad: tf.GradConfig = {
  kernelName: CROSS_ENTROPY,
  inputsToSave: ['logits', 'targets', 'weights'],
  outputsToSave: [true, true],
  gradFunc: (dys, saved) => {
    const dy = (dys as tf.Tensor[])[0];
    const [logits, targets, weights, loss, lse] = saved;
    return {
      logits: () => tf.engine().runKernel(CROSS_ENTROPY_GRAD, { dy, logits, targets, weights, lse }) as tf.Tensor,
      targets: () => tf.zerosLike(targets),
      // d loss / d w_i = (lse_i − z_i[t_i] − loss) / Σw: composed from tfjs ops, rarely needed.
      weights: () =>
        tf.tidy(() => {
          const V = logits.shape[1] as number;
          const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.cast(targets, 'int32') as tf.Tensor1D, V)), 1);
          const total = tf.maximum(tf.sum(weights), 1e-9);
          return tf.mul(dy, tf.div(tf.sub(tf.sub(lse, picked), loss), total));
        }),
    };
  },
};
