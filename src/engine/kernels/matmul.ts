/**
 * BatchMatMul through sgemm: float32 products of any rank with tfjs's semantics (transpose flags
 * on the last two axes, broadcast batch axes). A batch shared by B (B rank 2, the usual
 * activations × weights case) folds into one large GEMM; other batches run one GEMM per batch
 * entry on sub-arrays, without copying the operands. Other dtypes fall back to tfjs's kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { getBlas } from '../blas.js';
import { alloc, f32, out, sizeOf, type CpuBackend, type Fallback, type KernelArgs, type TensorInfo } from './cpu-backend.js';

/** For each flat index of `outBatch`, the flat batch index into an operand of batch shape `own`. */
function batchIndexMap(outBatch: number[], own: number[]): Int32Array {
  const total = sizeOf(outBatch);
  const map = new Int32Array(total);
  const r = outBatch.length;
  const padded = new Array<number>(r - own.length).fill(1).concat(own);
  const strides = new Array<number>(r).fill(0);
  let s = 1;
  for (let d = r - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : s;
    s *= padded[d];
  }
  for (let i = 0; i < total; i++) {
    let rem = i;
    let idx = 0;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % outBatch[d];
      rem = (rem - c) / outBatch[d];
      idx += c * strides[d];
    }
    map[i] = idx;
  }
  return map;
}

export function batchMatMulF32(
  backend: CpuBackend,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  const ar = a.shape.length;
  const br = b.shape.length;
  const M = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const K = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const Kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  const N = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  if (K !== Kb) {
    throw new Error(
      `Error in matMul: inner shapes (${K}) and (${Kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const batch = sizeOf(outBatch);
  const av = f32(backend, a);
  const bv = f32(backend, b);
  const c = alloc(backend, batch * M * N);
  const { sgemm } = getBlas();
  const lda = transposeA ? M : K;
  const ldb = transposeB ? K : N;
  const nA = sizeOf(aBatch);
  const nB = sizeOf(bBatch);
  if (nB === 1 && !transposeA) {
    // Rows of every A batch are rows of one tall matrix.
    sgemm(false, transposeB, batch * M, N, K, 1, av, 0, lda, bv, 0, ldb, 0, c, 0, N);
  } else {
    const sameBatch = nA === batch && nB === batch;
    const mapA = sameBatch || nA === 1 ? undefined : batchIndexMap(outBatch, aBatch);
    const mapB = sameBatch || nB === 1 ? undefined : batchIndexMap(outBatch, bBatch);
    for (let i = 0; i < batch; i++) {
      const ia = nA === 1 ? 0 : mapA ? mapA[i] : i;
      const ib = nB === 1 ? 0 : mapB ? mapB[i] : i;
      sgemm(transposeA, transposeB, M, N, K, 1, av, ia * M * K, lda, bv, ib * K * N, ldb, 0, c, i * M * N, N);
    }
  }
  return out(backend, [...outBatch, M, N], c);
}

export function makeBatchMatMul(fallback: Fallback) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    return batchMatMulF32(args.backend as CpuBackend, a, b, !!transposeA, !!transposeB);
  };
}
