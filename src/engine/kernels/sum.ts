/**
 * Sum over a contiguous run of axes of a float32 tensor (bias gradients reduce the leading axis,
 * broadcast gradients reduce leading or trailing ones) without transposing first, as tfjs does.
 * Each output accumulates its inputs in float64, in the same order as tfjs's kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { alloc, sizeOf, vals, type CpuBackend, type Fallback, type KernelArgs, type TensorInfo } from './cpu-backend.js';

export function makeSum(fallback: Fallback) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    if (x.dtype !== 'float32') return fallback(args);
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    if (axes.length === 0) return fallback(args);
    const lo = axes[0];
    const hi = axes[axes.length - 1];
    if (hi - lo + 1 !== axes.length) return fallback(args);
    const shape = x.shape;
    const outer = sizeOf(shape.slice(0, lo));
    const mid = sizeOf(shape.slice(lo, hi + 1));
    const inner = sizeOf(shape.slice(hi + 1));
    const xv = vals(backend, x) as Float32Array;
    const o = alloc(backend, outer * inner);
    if (inner === 1) {
      for (let r = 0; r < outer; r++) {
        let s = 0;
        const base = r * mid;
        for (let m = 0; m < mid; m++) s += xv[base + m];
        o[r] = s;
      }
    } else {
      const acc = new Float64Array(inner);
      for (let r = 0; r < outer; r++) {
        acc.fill(0);
        for (let m = 0; m < mid; m++) {
          const base = (r * mid + m) * inner;
          for (let j = 0; j < inner; j++) acc[j] += xv[base + j];
        }
        for (let j = 0; j < inner; j++) o[r * inner + j] = acc[j];
      }
    }
    const outShape = keepDims ? shape.map((d, i) => (i >= lo && i <= hi ? 1 : d)) : shape.filter((_, i) => i < lo || i > hi);
    return backend.makeTensorInfo(outShape, 'float32', o);
  };
}
