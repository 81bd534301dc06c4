/**
 * Fused RMSNorm over the last axis (Hugging Face's LlamaRMSNorm): one pass forward (y and the
 * per-row r it saves for backprop), one for the input gradient, one for the weight's (run only
 * when the weight is trained). With WebAssembly SIMD the forward and the input gradient run as
 * f32x4 loops over rows staged in the module's memory (as LayerNorm's); the JavaScript loops
 * accumulate row sums in float64.
 *
 *   y = x · r · w,  r = 1 / sqrt(mean(x²) + eps)
 *   dx = r · (g − x · r² · mean(g · x)),  g = dy · w
 *   dw = Σ_rows dy · x · r
 */
import * as tf from '@tensorflow/tfjs';
import { getSimd, type SimdRuntime } from '../simd/runtime.js';
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
  const simd = getSimd();
  if (simd && R > 0 && D > 0) rmsNormSimd(simd, xv, w, y, rs, R, D, eps);
  else rmsNormJs(xv, w, y, rs, R, D, eps);
  return [out(backend, x.shape.slice(), y), out(backend, x.shape.slice(0, -1), rs)];
}

function rmsNormJs(xv: Float32Array, w: Float32Array, y: Float32Array, rs: Float32Array, R: number, D: number, eps: number): void {
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
}

/** Rows staged per SIMD call: about 64 KB per operand. */
function rowsPerChunk(D: number): number {
  return Math.max(1, Math.floor(16384 / D));
}

function rmsNormSimd(simd: SimdRuntime, x: Float32Array, w: Float32Array, y: Float32Array, rs: Float32Array, R: number, D: number, eps: number): void {
  const C = rowsPerChunk(D);
  // heap: x chunk | y chunk | w | r per row
  const yAt = C * D;
  const wAt = 2 * C * D;
  const sAt = wAt + D;
  const heap = simd.reserve(sAt + C);
  heap.set(w, wAt);
  for (let r0 = 0; r0 < R; r0 += C) {
    const rows = Math.min(C, R - r0);
    heap.set(x.subarray(r0 * D, (r0 + rows) * D), 0);
    simd.fn.rmsNorm(0, yAt * 4, rows, D, wAt * 4, eps, sAt * 4);
    y.set(heap.subarray(yAt, yAt + rows * D), r0 * D);
    rs.set(heap.subarray(sAt, sAt + rows), r0);
  }
}

function rmsNormGradSimd(simd: SimdRuntime, dy: Float32Array, x: Float32Array, w: Float32Array, rs: Float32Array, dx: Float32Array, R: number, D: number): void {
  const C = rowsPerChunk(D);
  // heap: dy chunk | x chunk | dx chunk | w | r per row
  const xAt = C * D;
  const dxAt = 2 * C * D;
  const wAt = 3 * C * D;
  const sAt = wAt + D;
  const heap = simd.reserve(sAt + C);
  heap.set(w, wAt);
  for (let r0 = 0; r0 < R; r0 += C) {
    const rows = Math.min(C, R - r0);
    heap.set(dy.subarray(r0 * D, (r0 + rows) * D), 0);
    heap.set(x.subarray(r0 * D, (r0 + rows) * D), xAt);
    heap.set(rs.subarray(r0, r0 + rows), sAt);
    simd.fn.rmsNormGrad(0, xAt * 4, dxAt * 4, rows, D, wAt * 4, sAt * 4);
    dx.set(heap.subarray(dxAt, dxAt + rows * D), r0 * D);
  }
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
  const simd = getSimd();
  if (simd && R > 0 && D > 0) {
    rmsNormGradSimd(simd, dyv, xv, w, rv, dx, R, D);
    return out(backend, x.shape.slice(), dx);
  }
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
