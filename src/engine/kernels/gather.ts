/**
 * GatherV2 (embedding lookup, KV-cache row selection) as block copies, and its gradient
 * UnsortedSegmentSum (scatter-add of rows) as a row accumulation loop. tfjs's versions compute a
 * multi-index per element.
 */
import { allocLike, sizeOf, vals, type CpuBackend, type Fallback, type KernelArgs, type TensorInfo } from './cpu-backend.js';
import * as tf from '@tensorflow/tfjs';

type Numeric = Float32Array | Int32Array | Uint8Array;

export function makeGatherV2(fallback: Fallback) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = args.backend as CpuBackend;
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims?: number };
    if ((batchDims ?? 0) !== 0 || !(x.dtype === 'float32' || x.dtype === 'int32' || x.dtype === 'bool')) return fallback(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const idx = vals(backend, indices);
    const axisDim = x.shape[ax];
    for (let i = 0; i < idx.length; i++) {
      const v = idx[i];
      if (!(v >= 0 && v <= axisDim - 1)) throw new Error(`GatherV2: the index value ${v} is not in [0, ${axisDim - 1}]`);
    }
    const outer = sizeOf(x.shape.slice(0, ax));
    const inner = sizeOf(x.shape.slice(ax + 1));
    const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
    const xv = vals(backend, x) as Numeric;
    const o = allocLike(backend, xv, outer * idx.length * inner);
    let dst = 0;
    for (let r = 0; r < outer; r++) {
      const base = r * axisDim * inner;
      for (let i = 0; i < idx.length; i++, dst += inner) {
        const src = base + idx[i] * inner;
        if (inner >= 64) o.set(xv.subarray(src, src + inner), dst);
        else for (let j = 0; j < inner; j++) o[dst + j] = xv[src + j];
      }
    }
    return backend.makeTensorInfo(outShape, x.dtype, o);
  };
}

export function makeUnsortedSegmentSum(fallback: Fallback) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = args.backend as CpuBackend;
    const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const { numSegments } = args.attrs as { numSegments: number };
    if (x.dtype !== 'float32' || segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) return fallback(args);
    const ids = vals(backend, segmentIds);
    const xv = vals(backend, x) as Float32Array;
    const inner = sizeOf(x.shape.slice(1));
    // Accumulate in float64 (as tfjs's reductions do), round once.
    const acc = new Float64Array(numSegments * inner);
    for (let i = 0; i < ids.length; i++) {
      const s = ids[i];
      if (s < 0 || s >= numSegments) continue;
      const dst = s * inner;
      const src = i * inner;
      for (let j = 0; j < inner; j++) acc[dst + j] += xv[src + j];
    }
    return backend.makeTensorInfo([numSegments, ...x.shape.slice(1)], 'float32', new Float32Array(acc));
  };
}
