/**
 * The few linear-algebra pieces the theory experiment needs, on top of ml-matrix's QR, SVD and
 * Cholesky: orthonormal bases, top singular vectors, the subspace distance, and an exact
 * least-squares solve that returns the minimum-norm solution when the problem is underdetermined.
 */
import { CholeskyDecomposition, EigenvalueDecomposition, Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import type { Rng } from '../util/rng.js';

/** Thin QR: M (d × r, full column rank) = Q R with Q orthonormal columns, R upper triangular r × r. */
export function qr(M: Matrix): { Q: Matrix; R: Matrix } {
  const d = new QrDecomposition(M);
  return { Q: d.orthogonalMatrix, R: d.upperTriangularMatrix };
}

export function gaussian(rng: Rng, rows: number, cols: number): Matrix {
  const M = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) M.set(i, j, rng.normal());
  return M;
}

/**
 * A uniformly random d × r matrix with orthonormal columns; with `orthogonalTo` (d × s,
 * orthonormal), its columns are also orthogonal to that subspace.
 */
export function randomOrthonormal(rng: Rng, d: number, r: number, orthogonalTo?: Matrix): Matrix {
  let G = gaussian(rng, d, r);
  if (orthogonalTo) G = G.sub(orthogonalTo.mmul(orthogonalTo.transpose().mmul(G)));
  return qr(G).Q;
}

/** The r leading left singular vectors of M (d × r). */
export function topLeftSingularVectors(M: Matrix, r: number): Matrix {
  const svd = new SingularValueDecomposition(M, { computeRightSingularVectors: false, autoTranspose: true });
  return svd.leftSingularVectors.subMatrix(0, M.rows - 1, 0, r - 1);
}

/**
 * Distance between the column space of orthonormal U and that of Û: ||(I − U Uᵀ) Q||₂ where Q is
 * an orthonormal basis of Û, i.e. the sine of the largest principal angle (0 = same subspace,
 * 1 = some direction of Û is orthogonal to U). Computed directly, not as sqrt(1 − cos²), so it
 * stays accurate down to ~1e-15.
 */
export function subspaceDistance(U: Matrix, Uhat: Matrix): number {
  const Q = qr(Uhat).Q;
  const P = Q.sub(U.mmul(U.transpose().mmul(Q))); // (I − U Uᵀ) Q, entries of the size of the distance
  const M = P.transpose().mmul(P); // r × r; its largest eigenvalue is the squared distance
  const top = Math.max(...new EigenvalueDecomposition(M, { assumeSymmetric: true }).realEigenvalues);
  return Math.min(1, Math.sqrt(Math.max(0, top)));
}

/** Relative cut-off on the Gram matrix's eigenvalues (= 1e-5 on the design's singular values). */
const GRAM_RCOND = 1e-10;

/**
 * Least squares min_w ||D w − y||₂ for the m × p design D given feature-major, F[i·m + o] =
 * D[o, i] (row o is one observation). The exact solution, by the cheapest sound route:
 *  - m ≥ p and D well conditioned: normal equations DᵀD w = Dᵀy, Cholesky;
 *  - m < p (underdetermined): the minimum-norm interpolant w = Dᵀ(D Dᵀ)⁻¹ y, Cholesky on m × m;
 *  - otherwise (numerically rank-deficient): the minimum-norm solution through the SVD of DᵀD,
 *    eigenvalues below 1e-10 of the largest treated as zero.
 */
export function leastSquares(F: Float64Array, y: Float64Array, p: number, m: number): Float64Array {
  if (m < p) {
    const K = new Matrix(m, m);
    for (let o = 0; o < m; o++)
      for (let q = o; q < m; q++) {
        let s = 0;
        for (let i = 0; i < p; i++) s += F[i * m + o] * F[i * m + q];
        K.set(o, q, s);
        K.set(q, o, s);
      }
    const alpha = choleskySolve(K, y);
    if (alpha) {
      const w = new Float64Array(p);
      for (let i = 0; i < p; i++) {
        let s = 0;
        for (let o = 0; o < m; o++) s += F[i * m + o] * alpha[o];
        w[i] = s;
      }
      return w;
    }
  }
  const G = new Matrix(p, p);
  const h = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    const fi = i * m;
    let t = 0;
    for (let o = 0; o < m; o++) t += F[fi + o] * y[o];
    h[i] = t;
    for (let j = i; j < p; j++) {
      const s = dot(F, fi, F, j * m, m);
      G.set(i, j, s);
      G.set(j, i, s);
    }
  }
  return (m >= p ? choleskySolve(G, h) : undefined) ?? minNormSolve(G, h);
}

function dot(a: Float64Array, ia: number, b: Float64Array, ib: number, m: number): number {
  let s = 0;
  for (let o = 0; o < m; o++) s += a[ia + o] * b[ib + o];
  return s;
}

/** Solve K x = b for symmetric K by Cholesky; undefined if K is not comfortably positive definite. */
function choleskySolve(K: Matrix, b: Float64Array): Float64Array | undefined {
  const chol = new CholeskyDecomposition(K);
  if (!chol.isPositiveDefinite()) return undefined;
  const L = chol.lowerTriangularMatrix;
  let minPivot = Infinity;
  let maxDiag = 0;
  for (let i = 0; i < K.rows; i++) {
    minPivot = Math.min(minPivot, L.get(i, i) ** 2);
    maxDiag = Math.max(maxDiag, K.get(i, i));
  }
  if (!(minPivot > GRAM_RCOND * maxDiag)) return undefined;
  return Float64Array.from(chol.solve(Matrix.columnVector(Array.from(b))).getColumn(0));
}

/** Minimum-norm solution of G w = h for symmetric positive semi-definite G. */
function minNormSolve(G: Matrix, h: Float64Array): Float64Array {
  const p = G.rows;
  const svd = new SingularValueDecomposition(G, { autoTranspose: false });
  const s = svd.diagonal;
  const U = svd.leftSingularVectors;
  const cut = GRAM_RCOND * s[0];
  const w = new Float64Array(p);
  for (let k = 0; k < p; k++) {
    if (!(s[k] > cut)) continue;
    let c = 0;
    for (let i = 0; i < p; i++) c += U.get(i, k) * h[i];
    c /= s[k];
    for (let i = 0; i < p; i++) w[i] += c * U.get(i, k);
  }
  return w;
}

/** Row-major copy of a Matrix, for the hot loops. */
export function toFlat(M: Matrix): Float64Array {
  const out = new Float64Array(M.rows * M.columns);
  for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.columns; j++) out[i * M.columns + j] = M.get(i, j);
  return out;
}

export function fromFlat(a: Float64Array, rows: number, cols: number): Matrix {
  const M = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) M.set(i, j, a[i * cols + j]);
  return M;
}
