/**
 * Decompositions of a linear layer's frozen weight, for the adapters that start from it:
 *   topSvd   W ≈ U_r Σ_r V_rᵀ, the r leading singular triplets (PiSSA, SVFit, CoLoRA's `svd` start);
 *   luTopR   W = P L D U with partial (row) pivoting, the first r columns of P L, pivots and rows
 *            of the unit upper factor (LoLDU).
 * W is always read as the math's [out, in] matrix, whatever the stored layout (GPT-2's Conv1D
 * stores [in, out], nn.Linear [out, in]). Work is in float64 and only what r needs is formed:
 * the SVD is exact (dense, ml-matrix) on small layers and a randomized subspace iteration
 * (Halko, Martinsson & Tropp 2011; torch.svd_lowrank, which PEFT's fast PiSSA uses) on large
 * ones; the LU stops after r elimination steps.
 */
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import type { FrozenWeight } from '../model/linear-delta.js';
import { Rng } from '../util/rng.js';

/** The rows of W as the [out, in] matrix of y = W x, in float64. */
export function weightRows(w: FrozenWeight): Float64Array[] {
  const { inFeatures: nIn, outFeatures: nOut, data, layout } = w;
  if (data.length !== nIn * nOut) throw new Error(`frozen weight has ${data.length} values, expected ${nOut}×${nIn}`);
  const rows: Float64Array[] = [];
  for (let o = 0; o < nOut; o++) {
    const row = new Float64Array(nIn);
    if (layout === 'out_in') for (let i = 0; i < nIn; i++) row[i] = data[o * nIn + i];
    else for (let i = 0; i < nIn; i++) row[i] = data[i * nOut + o];
    rows.push(row);
  }
  return rows;
}

/** W as an ml-matrix [out, in]. */
export function weightMatrix(w: FrozenWeight): Matrix {
  return new Matrix(weightRows(w));
}

export interface TopSvd {
  /** [out, r] row-major, orthonormal columns. */
  U: Float64Array;
  /** r singular values, decreasing. */
  sigma: Float64Array;
  /** V_rᵀ: [r, in] row-major, orthonormal rows. */
  Vt: Float64Array;
}

/** Above this many multiply-adds (out·in·min) the SVD is randomized; GPT-2 small's layers are. */
const DENSE_SVD_LIMIT = 5e7;
const OVERSAMPLE = 8;
const POWER_ITERATIONS = 8;

function checkRank(w: FrozenWeight, r: number, what: string): void {
  const k = Math.min(w.inFeatures, w.outFeatures);
  if (!(Number.isInteger(r) && r >= 1 && r <= k))
    throw new Error(`${what}: rank ${r} must be between 1 and min(in, out) = ${k} (layer ${w.inFeatures} → ${w.outFeatures})`);
}

/**
 * The r leading singular triplets of W. `seed` draws the randomized method's test matrix (unused
 * on the dense path), so the result is a function of (W, r, seed).
 */
export function topSvd(w: FrozenWeight, r: number, seed = 0, opts: { dense?: boolean } = {}): TopSvd {
  checkRank(w, r, 'topSvd');
  const M = weightMatrix(w);
  const nOut = M.rows;
  const nIn = M.columns;
  const k = Math.min(nOut, nIn);
  const dense = opts.dense ?? nOut * nIn * k <= DENSE_SVD_LIMIT;
  let U: Matrix;
  let s: number[];
  let V: Matrix;
  if (dense) {
    const svd = new SingularValueDecomposition(M, { autoTranspose: true });
    U = svd.leftSingularVectors;
    s = svd.diagonal;
    V = svd.rightSingularVectors;
  } else {
    // Range finder with power iterations, re-orthonormalised each half step, then the exact SVD
    // of the small projection Qᵀ W (l × in).
    const l = Math.min(k, r + OVERSAMPLE);
    const rng = Rng.derive(seed, 'svd-range');
    const omega = new Matrix(nIn, l);
    for (let i = 0; i < nIn; i++) for (let j = 0; j < l; j++) omega.set(i, j, rng.normal());
    let Q = new QrDecomposition(M.mmul(omega)).orthogonalMatrix;
    const Mt = M.transpose();
    for (let it = 0; it < POWER_ITERATIONS; it++) {
      const Z = new QrDecomposition(Mt.mmul(Q)).orthogonalMatrix;
      Q = new QrDecomposition(M.mmul(Z)).orthogonalMatrix;
    }
    const small = Q.transpose().mmul(M); // l × in
    const svd = new SingularValueDecomposition(small, { autoTranspose: true });
    U = Q.mmul(svd.leftSingularVectors);
    s = svd.diagonal;
    V = svd.rightSingularVectors;
  }
  const order = s.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, r);
  const out: TopSvd = { U: new Float64Array(nOut * r), sigma: new Float64Array(r), Vt: new Float64Array(r * nIn) };
  order.forEach(([value, idx], j) => {
    out.sigma[j] = value;
    for (let o = 0; o < nOut; o++) out.U[o * r + j] = U.get(o, idx);
    for (let i = 0; i < nIn; i++) out.Vt[j * nIn + i] = V.get(i, idx);
  });
  return out;
}

export interface TopLdu {
  /** P L_r: [out, r], the first r columns of the unit lower factor with the row permutation applied. */
  PL: Float64Array;
  /** The first r pivots (the diagonal of D). */
  d: Float64Array;
  /** U_r: [r, in], the first r rows of the unit upper factor. */
  U: Float64Array;
  /** perm[k] = the row of W chosen as the k-th pivot. */
  perm: Int32Array;
}

/**
 * The first r steps of Gaussian elimination with partial pivoting on W (out × in): W = P L D U with
 * L unit lower, U unit upper, D diagonal; returns the parts that P L_r D_r U_r needs. After r
 * steps P L_r D_r U_r agrees with W on the r pivot rows and the first r columns. A zero pivot
 * (a column already eliminated) gives d = 0 and the unit row e_k in U.
 */
export function luTopR(w: FrozenWeight, r: number): TopLdu {
  checkRank(w, r, 'luTopR');
  const rows = weightRows(w); // eliminated in place
  const nOut = w.outFeatures;
  const nIn = w.inFeatures;
  const pivoted = new Uint8Array(nOut);
  const out: TopLdu = { PL: new Float64Array(nOut * r), d: new Float64Array(r), U: new Float64Array(r * nIn), perm: new Int32Array(r) };
  for (let k = 0; k < r; k++) {
    let p = -1;
    let best = -1;
    for (let o = 0; o < nOut; o++) {
      if (pivoted[o]) continue;
      const v = Math.abs(rows[o][k]);
      if (v > best) {
        best = v;
        p = o;
      }
    }
    pivoted[p] = 1;
    out.perm[k] = p;
    const prow = rows[p];
    const pivot = prow[k];
    out.d[k] = pivot;
    out.PL[p * r + k] = 1;
    if (pivot === 0) {
      out.U[k * nIn + k] = 1;
      continue;
    }
    for (let i = 0; i < nIn; i++) out.U[k * nIn + i] = i < k ? 0 : prow[i] / pivot;
    out.U[k * nIn + k] = 1;
    for (let o = 0; o < nOut; o++) {
      if (pivoted[o]) continue;
      const row = rows[o];
      const m = row[k] / pivot;
      out.PL[o * r + k] = m;
      if (m === 0) continue;
      for (let i = k; i < nIn; i++) row[i] -= m * prow[i];
    }
  }
  return out;
}
