/**
 * CoLoRA's core on the server side: the gauge fix (`normalize: qr`) and the diagnostics of how
 * far each client's core moved and how much of its update is personal (docs/method.md).
 *
 * Gauge: B S A = (B M)(M⁻¹ S N)(N⁻¹ A) for any invertible M, N. With B = Q_B R_B and
 * Aᵀ = Q_A R_Aᵀ (thin QR), B S_i A = Q_B (R_B S_i R_A) Q_Aᵀ, so the server can send orthonormal
 * factors and every client absorbs R_B, R_A into its core without changing its function.
 */
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { coreMatrix, mergePersonal, updateFactors, type LayerFactors } from '../adapters/state.js';

export interface GaugeFix {
  /** Orthonormal B [out, r] and A [r, in] (A's rows orthonormal). */
  B: Float32Array;
  A: Float32Array;
  /** S ↦ R_B S R_A, applied by every client to its own core. */
  absorb(S: Float32Array): Float32Array;
}

function toMatrix(a: Float32Array, rows: number, cols: number): Matrix {
  const M = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) M.set(i, j, a[i * cols + j]);
  return M;
}

function toArray(M: Matrix): Float32Array {
  return Float32Array.from(M.to1DArray());
}

/** Full column rank within this relative tolerance on R's diagonal, else the layer is left as it is. */
const RANK_TOL = 1e-6;

function fullRank(R: Matrix): boolean {
  const d = Array.from({ length: R.rows }, (_, i) => Math.abs(R.get(i, i)));
  const top = Math.max(...d);
  return top > 0 && Math.min(...d) > RANK_TOL * top;
}

/**
 * The gauge fix of one layer's averaged factors (B [out, r], A [r, in]); undefined when B or A is
 * rank-deficient (e.g. B = 0 before any training), where orthonormalising would lose the cores.
 */
export function gaugeFix(B: Float32Array, A: Float32Array, rank: number): GaugeFix | undefined {
  const r = rank;
  const nOut = B.length / r;
  const nIn = A.length / r;
  const qb = new QrDecomposition(toMatrix(B, nOut, r));
  const qa = new QrDecomposition(toMatrix(A, r, nIn).transpose());
  const RB = qb.upperTriangularMatrix;
  const RA = qa.upperTriangularMatrix.transpose(); // A = R_A Q_Aᵀ with R_A lower triangular
  if (!fullRank(RB) || !fullRank(RA)) return undefined;
  return {
    B: toArray(qb.orthogonalMatrix),
    A: toArray(qa.orthogonalMatrix.transpose()),
    absorb: (S) => toArray(RB.mmul(toMatrix(coreMatrix(S, r), r, r)).mmul(RA)),
  };
}

/** ‖P Q‖_F for P [out, m], Q [m, in], from the m×m Gram matrices (never forming P Q). */
export function productNorm(P: Float32Array, Q: Float32Array, m: number): number {
  const nOut = P.length / m;
  const nIn = Q.length / m;
  const GP = new Float64Array(m * m); // PᵀP
  for (let o = 0; o < nOut; o++)
    for (let a = 0; a < m; a++) {
      const pa = P[o * m + a];
      if (pa === 0) continue;
      for (let b = 0; b < m; b++) GP[a * m + b] += pa * P[o * m + b];
    }
  let t = 0; // tr(PᵀP · Q Qᵀ)
  for (let a = 0; a < m; a++)
    for (let b = 0; b < m; b++) {
      if (GP[a * m + b] === 0) continue;
      let q = 0;
      for (let i = 0; i < nIn; i++) q += Q[a * nIn + i] * Q[b * nIn + i];
      t += GP[a * m + b] * q;
    }
  return Math.sqrt(Math.max(0, t));
}

/** Condition number σ_max / σ_min of a core (∞ when singular). */
export function conditionNumber(S: Float32Array, rank: number): number {
  let s: number[];
  if (S.length === rank) s = Array.from(S, Math.abs);
  else s = new SingularValueDecomposition(toMatrix(S, rank, rank), { computeLeftSingularVectors: false, computeRightSingularVectors: false }).diagonal;
  const top = Math.max(...s);
  const low = Math.min(...s);
  return low > 0 ? top / low : Infinity;
}

export interface CoreDiagnostics {
  /** ‖S_i − S_i(0)‖_F / ‖S_i(0)‖_F over all layers (‖S_i‖_F when S_i(0) = 0). */
  core_change: number;
  /** The largest condition number of S_i over the layers. */
  core_cond: number;
  /** ‖B (S_i − S̄) A‖_F / ‖ΔW_i‖_F over all layers: the share of the update that differs from the clients' mean core. */
  personal_share: number;
}

/**
 * One client's diagnostics: `layers` its factors (global A, B with its own S), `s0` the cores at
 * the start, `mean` the clients' example-weighted mean core per layer.
 */
export function coreDiagnostics(
  layers: ReadonlyMap<string, LayerFactors>,
  s0: ReadonlyMap<string, Float32Array>,
  mean: ReadonlyMap<string, Float32Array>,
  rank: number,
): CoreDiagnostics {
  let moved = 0;
  let start = 0;
  let cond = 0;
  let personal = 0;
  let total = 0;
  for (const [name, f] of layers) {
    const S = f.S!;
    const S0 = s0.get(name)!;
    for (let i = 0; i < S.length; i++) {
      moved += (S[i] - S0[i]) ** 2;
      start += S0[i] ** 2;
    }
    cond = Math.max(cond, conditionNumber(S, rank));
    const Sbar = mean.get(name)!;
    const dev = S.map((v, i) => v - Sbar[i]);
    let P = f.B;
    if (f.D) P = mergePersonal(P, f.D, rank);
    personal += productNorm(mergePersonal(P, dev, rank), f.A, rank) ** 2;
    const u = updateFactors(f, rank);
    total += productNorm(u.P, u.Q, u.m) ** 2;
  }
  return {
    core_change: Math.sqrt(moved) / (start > 0 ? Math.sqrt(start) : 1),
    core_cond: cond,
    personal_share: total > 0 ? Math.sqrt(personal) / Math.sqrt(total) : 0,
  };
}
