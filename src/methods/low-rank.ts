/**
 * Sums of low-rank products, for servers that aggregate the products B_k A_k rather than the
 * factors (FlexLoRA, FedEx-LoRA). M = Σ_k w_k B_k A_k (B_k [out, r], A_k [r, in], row-major) has
 * rank at most m = K r; its truncated SVD is found without forming M: with the stacked factors
 * P = [w_1 B_1 … w_K B_K] (out × m) and Q = [A_1ᵀ … A_K ᵀ] (in × m), M = P Qᵀ; the thin QRs
 * P = Q_P R_P and Q = Q_Q R_Q give M = Q_P (R_P R_Qᵀ) Q_Qᵀ, so the SVD of the m × m core
 * R_P R_Qᵀ = U Σ Vᵀ yields M's singular values Σ and vectors Q_P U, Q_Q V. When m ≥ min(out, in)
 * the dense M is no larger than the factors, and is decomposed directly.
 */
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';

export interface ProductTerm {
  B: Float32Array;
  A: Float32Array;
  weight: number;
}

export interface TruncatedSvd {
  /** out × k, orthonormal columns. */
  U: Matrix;
  /** k singular values, largest first. */
  sigma: number[];
  /** in × k, orthonormal columns. */
  V: Matrix;
}

/** The dense Σ_k w_k B_k A_k (out × in), in float64. */
export function denseSum(terms: readonly ProductTerm[], rank: number, out: number, inF: number): Matrix {
  const M = new Matrix(out, inF);
  for (const t of terms)
    for (let o = 0; o < out; o++)
      for (let j = 0; j < rank; j++) {
        const b = t.weight * t.B[o * rank + j];
        if (b === 0) continue;
        for (let i = 0; i < inF; i++) M.set(o, i, M.get(o, i) + b * t.A[j * inF + i]);
      }
  return M;
}

function leading(svd: SingularValueDecomposition, k: number): { order: number[]; sigma: number[] } {
  const d = svd.diagonal;
  const order = d.map((_, i) => i).sort((a, b) => d[b] - d[a]).slice(0, k);
  return { order, sigma: order.map((i) => d[i]) };
}

function columns(M: Matrix, order: readonly number[]): Matrix {
  const out = new Matrix(M.rows, order.length);
  order.forEach((c, j) => {
    for (let i = 0; i < M.rows; i++) out.set(i, j, M.get(i, c));
  });
  return out;
}

/** The rank-k truncated SVD of Σ_k w_k B_k A_k, k ≤ min(out, in). */
export function truncatedSvdOfSum(terms: readonly ProductTerm[], rank: number, out: number, inF: number, k: number): TruncatedSvd {
  const m = terms.length * rank;
  if (m >= Math.min(out, inF)) {
    const svd = new SingularValueDecomposition(denseSum(terms, rank, out, inF), { autoTranspose: true });
    const { order, sigma } = leading(svd, k);
    return { U: columns(svd.leftSingularVectors, order), sigma, V: columns(svd.rightSingularVectors, order) };
  }
  const P = new Matrix(out, m);
  const Q = new Matrix(inF, m);
  terms.forEach((t, n) => {
    for (let j = 0; j < rank; j++) {
      for (let o = 0; o < out; o++) P.set(o, n * rank + j, t.weight * t.B[o * rank + j]);
      for (let i = 0; i < inF; i++) Q.set(i, n * rank + j, t.A[j * inF + i]);
    }
  });
  const qp = new QrDecomposition(P);
  const qq = new QrDecomposition(Q);
  const core = qp.upperTriangularMatrix.mmul(qq.upperTriangularMatrix.transpose()); // m × m
  const svd = new SingularValueDecomposition(core);
  const { order, sigma } = leading(svd, Math.min(k, m));
  return {
    U: qp.orthogonalMatrix.mmul(columns(svd.leftSingularVectors, order)),
    sigma,
    V: qq.orthogonalMatrix.mmul(columns(svd.rightSingularVectors, order)),
  };
}
