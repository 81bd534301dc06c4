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
import { fexp } from './fast-math.js';
import { f32, out, vals, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';
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

export function crossEntropyKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { logits, targets, weights } = args.inputs as Record<string, TensorInfo>;
  const [N, V] = check(logits, targets, weights);
  const z = f32(backend, logits);
  const t = vals(backend, targets);
  const w = vals(backend, weights);
  const lse = new Float32Array(N);
  let acc = 0;
  for (let i = 0; i < N; i++) {
    const base = i * V;
    let mx = -Infinity;
    for (let j = 0; j < V; j++) if (z[base + j] > mx) mx = z[base + j];
    let s = 0;
    for (let j = 0; j < V; j++) s += fexp(z[base + j] - mx);
    const l = mx + Math.log(s);
    lse[i] = l;
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
  const dz = new Float32Array(N * V);
  const scale = g / totalWeight(w);
  for (let i = 0; i < N; i++) {
    const c = w[i] * scale;
    if (c === 0) continue;
    const base = i * V;
    const li = l[i];
    for (let j = 0; j < V; j++) dz[base + j] = c * fexp(z[base + j] - li);
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
