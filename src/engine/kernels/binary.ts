/**
 * Add, Sub, Multiply and RealDiv on float32 with the broadcasts a transformer uses as tight
 * loops: same shape, a trailing-axes operand (bias [D] against [N, D]: "row", repeats with period
 * D), a leading-axes operand (per-row statistics [N, 1] against [N, D]: "col", one value per
 * block of D), and scalars (a col operand with one block). tfjs's cpu kernels handle broadcasts
 * by computing a multi-index per element; anything not covered here still goes to them.
 */
import * as tf from '@tensorflow/tfjs';
import { getBlas } from '../blas.js';
import { alloc, f32, out, sizeOf, type CpuBackend, type Fallback, type KernelArgs, type TensorInfo } from './cpu-backend.js';

const enum Op {
  Add,
  Sub,
  Mul,
  Div,
  /** b - a (Sub with the operands swapped). */
  RSub,
  /** b / a. */
  RDiv,
}

type Layout = { kind: 'row'; period: number } | { kind: 'col'; inner: number };

/** How an operand of `shape` maps onto the broadcast output `outShape` (undefined: not covered). */
function layoutOf(shape: readonly number[], outShape: readonly number[]): Layout | undefined {
  const r = outShape.length;
  const size = sizeOf(shape);
  const outSize = sizeOf(outShape);
  if (size === outSize) return { kind: 'row', period: outSize };
  if (size === 1) return { kind: 'col', inner: outSize };
  const padded = new Array<number>(r - shape.length).fill(1).concat(shape);
  let first = 0;
  while (first < r && padded[first] === 1) first++;
  let last = r - 1;
  while (last >= 0 && padded[last] === 1) last--;
  let rowOk = true;
  for (let d = first; d < r; d++) if (padded[d] !== outShape[d]) rowOk = false;
  if (rowOk) return { kind: 'row', period: size };
  let colOk = true;
  for (let d = 0; d <= last; d++) if (padded[d] !== outShape[d]) colOk = false;
  if (colOk) return { kind: 'col', inner: outSize / size };
  return undefined;
}

/** o[i] = op(x[i], y[i]): the same-shape case, one flat loop per op. */
function flatLoop(op: Op, x: Float32Array, y: Float32Array, o: Float32Array, n: number): void {
  switch (op) {
    case Op.Add:
      for (let i = 0; i < n; i++) o[i] = x[i] + y[i];
      return;
    case Op.Sub:
      for (let i = 0; i < n; i++) o[i] = x[i] - y[i];
      return;
    case Op.Mul:
      for (let i = 0; i < n; i++) o[i] = x[i] * y[i];
      return;
    case Op.Div:
      for (let i = 0; i < n; i++) o[i] = x[i] / y[i];
      return;
    case Op.RSub:
      for (let i = 0; i < n; i++) o[i] = y[i] - x[i];
      return;
    case Op.RDiv:
      for (let i = 0; i < n; i++) o[i] = y[i] / x[i];
      return;
  }
}

/** o[i] = op(x[i], y[i % period]) for a full x. */
function rowLoop(op: Op, x: Float32Array, y: Float32Array, o: Float32Array, period: number): void {
  const n = o.length;
  if (period === n) {
    flatLoop(op, x, y, o, n);
    return;
  }
  for (let base = 0; base < n; base += period) {
    switch (op) {
      case Op.Add:
        for (let j = 0; j < period; j++) o[base + j] = x[base + j] + y[j];
        break;
      case Op.Sub:
        for (let j = 0; j < period; j++) o[base + j] = x[base + j] - y[j];
        break;
      case Op.Mul:
        for (let j = 0; j < period; j++) o[base + j] = x[base + j] * y[j];
        break;
      case Op.Div:
        for (let j = 0; j < period; j++) o[base + j] = x[base + j] / y[j];
        break;
      case Op.RSub:
        for (let j = 0; j < period; j++) o[base + j] = y[j] - x[base + j];
        break;
      case Op.RDiv:
        for (let j = 0; j < period; j++) o[base + j] = y[j] / x[base + j];
        break;
    }
  }
}

/** o[i] = op(x[i], y[floor(i / inner)]) for a full x. */
function colLoop(op: Op, x: Float32Array, y: Float32Array, o: Float32Array, inner: number): void {
  const blocks = o.length / inner;
  for (let r = 0; r < blocks; r++) {
    const v = y[r];
    const base = r * inner;
    const end = base + inner;
    switch (op) {
      case Op.Add:
        for (let i = base; i < end; i++) o[i] = x[i] + v;
        break;
      case Op.Sub:
        for (let i = base; i < end; i++) o[i] = x[i] - v;
        break;
      case Op.Mul:
        for (let i = base; i < end; i++) o[i] = x[i] * v;
        break;
      case Op.Div:
        for (let i = base; i < end; i++) o[i] = x[i] / v;
        break;
      case Op.RSub:
        for (let i = base; i < end; i++) o[i] = v - x[i];
        break;
      case Op.RDiv:
        for (let i = base; i < end; i++) o[i] = v / x[i];
        break;
    }
  }
}

const SWAPPED: Record<Op, Op> = {
  [Op.Add]: Op.Add,
  [Op.Mul]: Op.Mul,
  [Op.Sub]: Op.RSub,
  [Op.Div]: Op.RDiv,
  [Op.RSub]: Op.Sub,
  [Op.RDiv]: Op.Div,
};

function binaryF32(backend: CpuBackend, op: Op, a: TensorInfo, b: TensorInfo): TensorInfo | undefined {
  let outShape: number[];
  try {
    outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
  } catch {
    return undefined; // let tfjs's kernel raise its own error
  }
  const outSize = sizeOf(outShape);
  const av = f32(backend, a);
  const bv = f32(backend, b);
  const o = alloc(backend, outSize);
  if (outSize === 0) return out(backend, outShape, o);
  // The full operand drives the loop; the other is a row or col operand.
  let full: Float32Array;
  let other: Float32Array;
  let lay: Layout | undefined;
  let effOp = op;
  if (sizeOf(a.shape) === outSize) {
    full = av;
    other = bv;
    lay = layoutOf(b.shape, outShape);
  } else if (sizeOf(b.shape) === outSize) {
    full = bv;
    other = av;
    lay = layoutOf(a.shape, outShape);
    effOp = SWAPPED[op];
  } else return undefined;
  if (!lay) return undefined;
  if (!(outSize >= BLAS_MIN && viaBlas(effOp, lay, full, other, o))) {
    if (lay.kind === 'row') rowLoop(effOp, full, other, o, lay.period);
    else colLoop(effOp, full, other, o, lay.inner);
  }
  return out(backend, outShape, o);
}

/** From this many elements, the vectorised BLAS routines beat a JavaScript loop (call overhead). */
const BLAS_MIN = 4096;

let ones = new Float32Array(0);
function onesOf(n: number): Float32Array {
  if (ones.length < n) ones = new Float32Array(n).fill(1);
  return ones;
}

/**
 * The cases OpenBLAS's level-1/2 routines do faster than a JS loop (measured ~3×): same-shape
 * add/sub (copy + saxpy), bias add/sub (copy + rank-1 update with a ones column), scaling by a
 * scalar (copy + sscal). Returns false when it did nothing.
 */
function viaBlas(op: Op, lay: Layout, full: Float32Array, other: Float32Array, o: Float32Array): boolean {
  const blas = getBlas();
  if (blas.kind !== 'openblas') return false;
  const n = o.length;
  if (lay.kind === 'row' && lay.period === n) {
    if (op === Op.Add || op === Op.Sub) {
      o.set(full.subarray(0, n));
      blas.saxpy(n, op === Op.Add ? 1 : -1, other, o);
      return true;
    }
    if (op === Op.RSub) {
      o.set(other.subarray(0, n));
      blas.saxpy(n, -1, full, o);
      return true;
    }
    return false;
  }
  if (lay.kind === 'row' && (op === Op.Add || op === Op.Sub)) {
    const rows = n / lay.period;
    o.set(full.subarray(0, n));
    blas.sger(rows, lay.period, op === Op.Add ? 1 : -1, onesOf(rows), other, o);
    return true;
  }
  if (lay.kind === 'col' && lay.inner === n && (op === Op.Mul || op === Op.Div)) {
    o.set(full.subarray(0, n));
    blas.sscal(n, op === Op.Mul ? other[0] : 1 / other[0], o);
    return true;
  }
  return false;
}

function makeBinary(op: Op, fallback: Fallback) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype === 'float32' && b.dtype === 'float32') {
      const r = binaryF32(args.backend as CpuBackend, op, a, b);
      if (r) return r;
    }
    return fallback(args);
  };
}

export const makeAdd = (fallback: Fallback) => makeBinary(Op.Add, fallback);
export const makeSub = (fallback: Fallback) => makeBinary(Op.Sub, fallback);
export const makeMul = (fallback: Fallback) => makeBinary(Op.Mul, fallback);
export const makeRealDiv = (fallback: Fallback) => makeBinary(Op.Div, fallback);
