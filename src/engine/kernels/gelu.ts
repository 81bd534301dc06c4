/**
 * Fused GELU, tanh approximation (GPT-2's gelu_new), forward and backward in one pass each.
 *
 *   y = x · s,  s = (1 + tanh(u)) / 2 = sigmoid(2u),  u = c (x + 0.044715 x³),  c = sqrt(2/π)
 *   dy/dx = s + x · s (1 - s) · 2c (1 + 3 · 0.044715 x²)
 *
 * The forward also returns s, so the backward needs no transcendental at all; the sigmoid form
 * keeps full relative accuracy in both tails (where 1 + tanh(u) would cancel).
 */
import { CHUNK, getSimd, stagedChunks, type SimdRuntime } from '../simd/runtime.js';
import { fexp } from './fast-math.js';
import { alloc, f32, out, sizeOf, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';

const C = Math.sqrt(2 / Math.PI);
const K = 0.044715;

/** [y, s], or [y] with attrs {withS: false} (inference: no backward will read s). */
export function geluKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const withS = (args.attrs as { withS?: boolean }).withS !== false;
  const xv = f32(backend, x);
  const n = sizeOf(x.shape);
  const y = alloc(backend, n);
  const s = withS ? alloc(backend, n) : undefined;
  const simd = getSimd();
  const done = simd ? geluSimd(simd, xv, y, s, n) : 0;
  const m2c = -2 * C;
  for (let i = done; i < n; i++) {
    const v = xv[i];
    const sg = 1 / (1 + fexp(m2c * (v + K * v * v * v)));
    if (s) s[i] = sg;
    y[i] = v * sg;
  }
  const ys = out(backend, x.shape.slice(), y);
  return s ? [ys, out(backend, x.shape.slice(), s)] : [ys];
}

/** The SIMD loop over chunks staged in the module's memory; returns how many elements it did. */
function geluSimd(simd: SimdRuntime, x: Float32Array, y: Float32Array, s: Float32Array | undefined, n: number): number {
  const B = CHUNK * 4;
  return stagedChunks(simd, n & ~3, [x], s ? [[y, 1], [s, 2]] : [[y, 1]], (len) => simd.fn.gelu(0, B, 2 * B, len));
}

function geluGradSimd(simd: SimdRuntime, dy: Float32Array, x: Float32Array, s: Float32Array, dx: Float32Array, n: number): number {
  const B = CHUNK * 4;
  return stagedChunks(simd, n & ~3, [dy, x, s], [[dx, 3]], (len) => simd.fn.geluGrad(0, B, 2 * B, 3 * B, len));
}

export function geluGradKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { dy, x, s } = args.inputs as { dy: TensorInfo; x: TensorInfo; s: TensorInfo };
  const dyv = f32(backend, dy);
  const xv = f32(backend, x);
  const sv = f32(backend, s);
  const n = sizeOf(x.shape);
  const dx = alloc(backend, n);
  const c2 = 2 * C;
  const k3 = 3 * K;
  const simd = getSimd();
  const done = simd ? geluGradSimd(simd, dyv, xv, sv, dx, n) : 0;
  for (let i = done; i < n; i++) {
    const v = xv[i];
    const sg = sv[i];
    dx[i] = dyv[i] * (sg + v * sg * (1 - sg) * c2 * (1 + k3 * v * v));
  }
  return out(backend, x.shape.slice(), dx);
}
