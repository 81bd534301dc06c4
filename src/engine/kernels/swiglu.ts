/**
 * Fused SwiGLU (the gate of a Llama MLP), forward and backward in one pass each instead of
 * sigmoid, two multiplies and their gradients:
 *
 *   y = g · σ(g) · u
 *   dg = dy · u · σ(g) · (1 + g · (1 − σ(g))),   du = dy · g · σ(g)
 *
 * σ is recomputed in the backward (one exp per element) rather than kept: the MLP's widest
 * activation is not stored twice. With WebAssembly SIMD both passes run as f32x4 loops over
 * chunks staged in the module's memory (the exp dominates; see simd/kernels.ts).
 */
import { CHUNK, getSimd, stagedChunks } from '../simd/runtime.js';
import { fexp } from './fast-math.js';
import { alloc, f32, out, sizeOf, type CpuBackend, type KernelArgs, type TensorInfo } from './cpu-backend.js';

function check(gate: TensorInfo, up: TensorInfo): number {
  if (gate.shape.length !== up.shape.length || gate.shape.some((d, i) => d !== up.shape[i])) {
    throw new Error(`swiglu: gate [${gate.shape}] and up [${up.shape}] must have the same shape`);
  }
  return sizeOf(gate.shape);
}

/** inputs gate, up → y. */
export function swigluKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as CpuBackend;
  const { gate, up } = args.inputs as { gate: TensorInfo; up: TensorInfo };
  const n = check(gate, up);
  const g = f32(backend, gate);
  const u = f32(backend, up);
  const y = alloc(backend, n);
  const simd = getSimd();
  const B = CHUNK * 4;
  const done = simd ? stagedChunks(simd, n & ~3, [g, u], [[y, 2]], (len) => simd.fn.swiglu(0, B, 2 * B, len)) : 0;
  for (let i = done; i < n; i++) {
    const v = g[i];
    y[i] = (v / (1 + fexp(-v))) * u[i];
  }
  return out(backend, gate.shape.slice(), y);
}

/** inputs dy, gate, up → [dgate, dup]. */
export function swigluGradKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as CpuBackend;
  const { dy, gate, up } = args.inputs as { dy: TensorInfo; gate: TensorInfo; up: TensorInfo };
  const n = check(gate, up);
  const d = f32(backend, dy);
  const g = f32(backend, gate);
  const u = f32(backend, up);
  const dg = alloc(backend, n);
  const du = alloc(backend, n);
  const simd = getSimd();
  const B = CHUNK * 4;
  const done = simd ? stagedChunks(simd, n & ~3, [d, g, u], [[dg, 3], [du, 4]], (len) => simd.fn.swigluGrad(0, B, 2 * B, 3 * B, 4 * B, len)) : 0;
  for (let i = done; i < n; i++) {
    const v = g[i];
    const s = 1 / (1 + fexp(-v));
    const dv = d[i];
    dg[i] = dv * u[i] * s * (1 + v * (1 - s));
    du[i] = dv * v * s;
  }
  return [out(backend, gate.shape.slice(), dg), out(backend, gate.shape.slice(), du)];
}
