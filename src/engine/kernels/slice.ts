/**
 * Slice and SplitV (q/k/v out of the fused projection, KV-cache windows): a contiguous slice is a
 * view on the input's buffer (as tfjs itself does; tensors are immutable), any other slice copies
 * runs of its innermost contiguous block. tfjs's generic version computes a multi-index per
 * element.
 */
import * as tf from '@tensorflow/tfjs';
import { allocLike, sizeOf, vals, type CpuBackend, type Fallback, type KernelArgs, type TensorInfo } from './cpu-backend.js';

type Numeric = Float32Array | Int32Array | Uint8Array;

export function sliceValues(
  x: Numeric,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  newArray: (n: number) => Numeric = (n) => new (x.constructor as { new (n: number): Numeric })(n),
): Numeric {
  const r = shape.length;
  const total = sizeOf(size);
  if (total === 0) return newArray(0);
  const strides = new Array<number>(r);
  let s = 1;
  for (let d = r - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  // The innermost block copied at once: trailing axes taken whole, plus the first partial one.
  let inner = r - 1;
  while (inner > 0 && size[inner] === shape[inner]) inner--;
  let run = 1;
  for (let d = inner; d < r; d++) run *= size[d];
  let start = 0;
  for (let d = 0; d < r; d++) start += begin[d] * strides[d];
  if (run === total) return x.subarray(start, start + total) as Numeric;
  const o = newArray(total);
  const idx = new Array<number>(inner).fill(0);
  let src = start;
  for (let dst = 0; dst < total; dst += run) {
    if (run >= 64) o.set(x.subarray(src, src + run), dst);
    else for (let j = 0; j < run; j++) o[dst + j] = x[src + j];
    for (let d = inner - 1; d >= 0; d--) {
      idx[d]++;
      src += strides[d];
      if (idx[d] < size[d]) break;
      src -= strides[d] * size[d];
      idx[d] = 0;
    }
  }
  return o;
}

function supported(x: TensorInfo): boolean {
  return x.dtype === 'float32' || x.dtype === 'int32' || x.dtype === 'bool';
}

export function makeSlice(fallback: Fallback) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as { x: TensorInfo };
    if (!supported(x)) return fallback(args);
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    tf.slice_util.assertParamsValid(x as tf.Tensor, b, s);
    const xv = vals(backend, x) as Numeric;
    const o = sliceValues(xv, x.shape, b, s, (n) => allocLike(backend, xv, n));
    return backend.makeTensorInfo(s, x.dtype, o);
  };
}

export function makeSplitV(fallback: Fallback) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const backend = args.backend as CpuBackend;
    const { x } = args.inputs as { x: TensorInfo };
    if (!supported(x)) return fallback(args);
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const xv = vals(backend, x) as Numeric;
    const begin = new Array<number>(x.shape.length).fill(0);
    const size = x.shape.slice();
    return sizes.map((n) => {
      size[ax] = n;
      const o = sliceValues(xv, x.shape, begin, size, (n) => allocLike(backend, xv, n));
      const info = backend.makeTensorInfo(size.slice(), x.dtype, o);
      begin[ax] += n;
      return info;
    });
  };
}
