/**
 * Single-precision BLAS for the fast CPU engine: OpenBLAS's sgemm (and the vectorised level-1/2
 * saxpy, sger, sscal, ~3× faster than a JavaScript loop for adds and bias broadcasts) through the
 * optional `nblas` binding when it loads, else plain JavaScript (correct everywhere, slower).
 *
 * Row-major throughout: C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, where op(X) is X or
 * Xᵀ; lda/ldb/ldc are the row strides of the arrays as stored. Offsets address sub-matrices of
 * larger buffers (one head of a [B, H, T, hd] tensor, one batch of a batched product).
 */
import { createRequire } from 'node:module';
import { setBlasThreads } from './blas-threads.js';

export interface Gemm {
  (
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    aOff: number,
    lda: number,
    b: Float32Array,
    bOff: number,
    ldb: number,
    beta: number,
    c: Float32Array,
    cOff: number,
    ldc: number,
  ): void;
}

/** y[0..n) += alpha · x[0..n) (whole arrays from offset 0). */
export type Axpy = (n: number, alpha: number, x: Float32Array, y: Float32Array) => void;
/** a[i, j] += alpha · x[i] · y[j] for an m × n row-major a (row stride n). */
export type Ger = (m: number, n: number, alpha: number, x: Float32Array, y: Float32Array, a: Float32Array) => void;
/** x[0..n) *= alpha. */
export type Scal = (n: number, alpha: number, x: Float32Array) => void;

export interface Blas {
  sgemm: Gemm;
  saxpy: Axpy;
  sger: Ger;
  sscal: Scal;
  /** OpenBLAS threads and why (e.g. '1 (auto: load 4.6 on 2 CPUs)'); undefined for the JS fallback. */
  threads?: string;
  /** 'openblas' when nblas loaded, 'js' for the fallback. */
  kind: 'openblas' | 'js';
  /** Why the native library is not in use (only for kind 'js'). */
  reason?: string;
}

const NO_TRANS = 111;
const TRANS = 112;

type NativeSgemm = (
  ta: number,
  tb: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

/** A view of `x` from `off`: nblas reads byteOffset, so a subarray addresses the sub-matrix. */
function from(x: Float32Array, off: number): Float32Array {
  return off === 0 ? x : x.subarray(off);
}

function nativeGemm(native: NativeSgemm): Gemm {
  return (transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc) => {
    if (m === 0 || n === 0) return;
    if (k === 0) {
      scaleC(m, n, beta, c, cOff, ldc);
      return;
    }
    native(transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha, from(a, aOff), lda, from(b, bOff), ldb, beta, from(c, cOff), ldc);
  };
}

function scaleC(m: number, n: number, beta: number, c: Float32Array, cOff: number, ldc: number): void {
  for (let i = 0; i < m; i++) {
    const row = cOff + i * ldc;
    if (beta === 0) c.fill(0, row, row + n);
    else for (let j = 0; j < n; j++) c[row + j] *= beta;
  }
}

/**
 * JavaScript GEMM: packs op(B) into a contiguous k×n panel, then runs the i-k-j loop (unit
 * stride on B and C rows), accumulating in float64 per row.
 */
export const jsGemm: Gemm = (transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc) => {
  if (m === 0 || n === 0) return;
  scaleC(m, n, beta, c, cOff, ldc);
  if (k === 0 || alpha === 0) return;
  let bp: Float32Array;
  if (!transB && ldb === n) bp = b.subarray(bOff, bOff + k * n);
  else {
    bp = new Float32Array(k * n);
    for (let p = 0; p < k; p++) {
      for (let j = 0; j < n; j++) bp[p * n + j] = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
    }
  }
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const aip = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
      if (aip === 0) continue;
      const bRow = p * n;
      for (let j = 0; j < n; j++) acc[j] += aip * bp[bRow + j];
    }
    const cRow = cOff + i * ldc;
    for (let j = 0; j < n; j++) c[cRow + j] += alpha * acc[j];
  }
};

export const jsAxpy: Axpy = (n, alpha, x, y) => {
  for (let i = 0; i < n; i++) y[i] += alpha * x[i];
};

export const jsGer: Ger = (m, n, alpha, x, y, a) => {
  for (let i = 0, k = 0; i < m; i++) {
    const xi = alpha * x[i];
    for (let j = 0; j < n; j++, k++) a[k] += xi * y[j];
  }
};

export const jsScal: Scal = (n, alpha, x) => {
  for (let i = 0; i < n; i++) x[i] *= alpha;
};

/** The JavaScript implementations of everything (no native library). */
export function jsBlas(reason: string): Blas {
  return { sgemm: jsGemm, saxpy: jsAxpy, sger: jsGer, sscal: jsScal, kind: 'js', reason };
}

let cached: Blas | undefined;

/**
 * Load the BLAS once per process (nblas if it loads, else the JS fallback with the reason).
 * COLORA_NO_BLAS=1 forces the fallback (to measure it, or to rule OpenBLAS out).
 */
export function getBlas(): Blas {
  if (cached) return cached;
  if (process.env.COLORA_NO_BLAS === '1') return (cached = jsBlas('COLORA_NO_BLAS=1 is set'));
  try {
    const threads = setBlasThreads();
    const nblas = createRequire(import.meta.url)('nblas') as {
      sgemm?: NativeSgemm;
      saxpy?: (n: number, alpha: number, x: Float32Array, incx: number, y: Float32Array, incy: number) => void;
      sger?: (m: number, n: number, alpha: number, x: Float32Array, incx: number, y: Float32Array, incy: number, a: Float32Array, lda: number) => void;
      sscal?: (n: number, alpha: number, x: Float32Array, incx: number) => void;
    };
    const { saxpy, sger, sscal } = nblas;
    if (typeof nblas.sgemm !== 'function' || !saxpy || !sger || !sscal) throw new Error('nblas lacks sgemm/saxpy/sger/sscal');
    const sgemm = nativeGemm(nblas.sgemm);
    // Smoke test: a wrong binding must not silently corrupt results.
    const c = new Float32Array(4);
    sgemm(false, true, 2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), 0, 2, new Float32Array([5, 6, 7, 8]), 0, 2, 0, c, 0, 2);
    if (c[0] !== 17 || c[1] !== 23 || c[2] !== 39 || c[3] !== 53) throw new Error(`nblas sgemm self-test failed (${Array.from(c)})`);
    cached = {
      sgemm,
      saxpy: (n, alpha, x, y) => {
        if (n > 0) saxpy(n, alpha, x, 1, y, 1);
      },
      sger: (m, n, alpha, x, y, a) => {
        if (m > 0 && n > 0) sger(m, n, alpha, x, 1, y, 1, a, n);
      },
      sscal: (n, alpha, x) => {
        if (n > 0) sscal(n, alpha, x, 1);
      },
      kind: 'openblas',
      threads,
    };
  } catch (e) {
    cached = jsBlas((e as Error).message.split('\n')[0]);
  }
  return cached;
}

/** For tests: force the JS fallback (or back to native detection with undefined). */
export function setBlasForTesting(b: Blas | undefined): void {
  cached = b;
}
