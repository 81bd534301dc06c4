/**
 * Transpose for any rank and numeric dtype. Axes that stay adjacent and in order are merged
 * first (so [B, T, H, hd] → [B, H, T, hd] is a 4-D problem whose last axis is contiguous), then
 * an odometer walks the output rows and copies each row with the input's stride along it.
 * An identity permutation shares the input's data (tensors are immutable).
 */
import { allocLike, sizeOf, vals, type CpuBackend, type Fallback, type KernelArgs, type TensorInfo } from './cpu-backend.js';
import type * as tf from '@tensorflow/tfjs';

type Numeric = Float32Array | Int32Array | Uint8Array;

/** Merge runs of axes that remain consecutive in `perm`; drops size-1 axes. */
export function collapse(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const keep = [];
  for (let d = 0; d < shape.length; d++) if (shape[d] !== 1) keep.push(d);
  // Renumber the surviving axes.
  const newIndex = new Map<number, number>();
  keep.forEach((d, i) => newIndex.set(d, i));
  const s = keep.map((d) => shape[d]);
  const p = perm.filter((d) => shape[d] !== 1).map((d) => newIndex.get(d)!);
  // Group output-consecutive axes that are also input-consecutive.
  const groups: number[][] = [];
  for (const d of p) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1] + 1 === d) g.push(d);
    else groups.push([d]);
  }
  const order = [...groups].sort((x, y) => x[0] - y[0]);
  const gShape = order.map((g) => g.reduce((acc, d) => acc * s[d], 1));
  const gPerm = groups.map((g) => order.indexOf(g));
  return { shape: gShape, perm: gPerm };
}

export function transposeValues(x: Numeric, shape: readonly number[], perm: readonly number[], o: Numeric): void {
  const c = collapse(shape, perm);
  const r = c.shape.length;
  if (r <= 1) {
    o.set(x.subarray(0, o.length));
    return;
  }
  const inStrides = new Array<number>(r);
  let s = 1;
  for (let d = r - 1; d >= 0; d--) {
    inStrides[d] = s;
    s *= c.shape[d];
  }
  const outShape = c.perm.map((d) => c.shape[d]);
  const strideAlong = c.perm.map((d) => inStrides[d]);
  const rowLen = outShape[r - 1];
  const rowStride = strideAlong[r - 1];
  const rows = o.length / rowLen;
  const idx = new Array<number>(r - 1).fill(0);
  let src = 0;
  let dst = 0;
  for (let row = 0; row < rows; row++) {
    if (rowStride === 1) o.set(x.subarray(src, src + rowLen), dst);
    else for (let j = 0, p = src; j < rowLen; j++, p += rowStride) o[dst + j] = x[p];
    dst += rowLen;
    // Advance the odometer over the output's leading axes.
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      src += strideAlong[d];
      if (idx[d] < outShape[d]) break;
      src -= strideAlong[d] * outShape[d];
      idx[d] = 0;
    }
  }
}

export function makeTranspose(fallback: Fallback) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const perm = (args.attrs as { perm: number[] }).perm;
    if (x.dtype === 'string' || x.dtype === 'complex64') return fallback(args);
    const outShape = perm.map((d) => x.shape[d]);
    if (perm.every((d, i) => d === i)) {
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: outShape, dtype: x.dtype };
    }
    const xv = vals(backend, x) as Numeric;
    const o = allocLike(backend, xv, sizeOf(x.shape));
    transposeValues(xv, x.shape, perm, o);
    return backend.makeTensorInfo(outShape, x.dtype as tf.DataType, o);
  };
}
