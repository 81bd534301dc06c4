/**
 * Fused RMSNorm over the last axis (Hugging Face's LlamaRMSNorm): one pass forward (y and the
 * per-row r it saves for backprop), one for the input gradient, one for the weight's (run only
 * when the weight is trained). Row sums are accumulated in float64.
 *
 *   y = x · r · w,  r = 1 / sqrt(mean(x²) + eps)
 *   dx = r · (g − x · r² · mean(g · x)),  g = dy · w
 *   dw = Σ_rows dy · x · r
 */
import * as tf from '@tensorflow/tfjs';
import { alloc, f32, out, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';
import { RMS_NORM, RMS_NORM_GRAD, RMS_NORM_WEIGHT_GRAD } from './names.js';

function dims(x: TensorInfo): [number, number] {
  const D = x.shape[x.shape.length - 1];
  return [D === 0 ? 0 : x.shape.reduce((a, b) => a * b, 1) / D, D];
}

/** inputs x [..., D], weight [D], attrs {eps} → [y, r [...]]. */
export function rmsNormKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { x, weight } = args.inputs as { x: TensorInfo; weight: TensorInfo };
  const eps = (args.attrs as { eps: number }).eps;
  const [R, D] = dims(x);
  const xv = f32(backend, x);
  const w = f32(backend, weight);
  const y = alloc(backend, R * D);
  const rs = alloc(backend, R);
  for (let r = 0; r < R; r++) {
    const base = r * D;
    let s0 = 0;
    let s1 = 0;
    let j = 0;
    for (; j + 1 < D; j += 2) {
      const a = xv[base + j];
      const b = xv[base + j + 1];
      s0 += a * a;
      s1 += b * b;
    }
    if (j < D) s0 += xv[base + j] * xv[base + j];
    const rr = 1 / Math.sqrt((s0 + s1) / D + eps);
    rs[r] = rr;
    for (let i = 0; i < D; i++) y[base + i] = xv[base + i] * rr * w[i];
  }
  return [out(backend, x.shape.slice(), y), out(backend, x.shape.slice(0, -1), rs)];
}

/** inputs dy, x, weight, r → dx. */
export function rmsNormGradKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { dy, x, weight, r } = args.inputs as Record<string, TensorInfo>;
  const [R, D] = dims(x);
  const dyv = f32(backend, dy);
  const xv = f32(backend, x);
  const w = f32(backend, weight);
  const rv = f32(backend, r);
  const dx = alloc(backend, R * D);
  for (let row = 0; row < R; row++) {
    const base = row * D;
    let s = 0;
    for (let j = 0; j < D; j++) s += dyv[base + j] * w[j] * xv[base + j];
    const rr = rv[row];
    const c = (rr * rr * s) / D;
    for (let j = 0; j < D; j++) dx[base + j] = rr * (dyv[base + j] * w[j] - xv[base + j] * c);
  }
  return out(backend, x.shape.slice(), dx);
}

/** inputs dy, x, r → dw [D]. */
export function rmsNormWeightGradKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { dy, x, r } = args.inputs as Record<string, TensorInfo>;
  const [R, D] = dims(x);
  const dyv = f32(backend, dy);
  const xv = f32(backend, x);
  const rv = f32(backend, r);
  const dw = new Float64Array(D);
  for (let row = 0; row < R; row++) {
    const base = row * D;
    const rr = rv[row];
    for (let j = 0; j < D; j++) dw[j] += dyv[base + j] * xv[base + j] * rr;
  }
  return out(backend, [D], new Float32Array(dw));
}

/** Only the gradients asked for run: a frozen weight (LoRA fine-tuning) costs no dw pass. */
export const rmsNormGrad: tf.GradConfig = {
  kernelName: RMS_NORM,
  inputsToSave: ['x', 'weight'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved) => {
    const dy = (dys as tf.Tensor[])[0];
    const [x, weight, r] = saved;
    const e = tf.engine();
    return {
      x: () => e.runKernel(RMS_NORM_GRAD, { dy, x, weight, r }) as tf.Tensor,
      weight: () => e.runKernel(RMS_NORM_WEIGHT_GRAD, { dy, x, r }) as tf.Tensor,
    };
  },
};
