/**
 * Column-subspace similarity of learned updates between clients (the LoRA paper's measure, Hu et
 * al. 2021, §7): for each adapted layer, ΔW_i = (alpha/r) B S_i A (B A without a personal S) is
 * out × in; U_i holds its top-k left singular vectors; the similarity of clients i and j is
 * ||U_iᵀ U_j||²_F / k, from 0 (orthogonal column spaces) to 1 (the same). k = r by default.
 *
 * ΔW is never formed: with the thin QR B S = Q R, ΔW = (alpha/r) Q (R A), so its left singular
 * vectors are Q times those of the r × in matrix R A. Directions whose singular value is below
 * 1e-6 of the largest are not part of the update's column space; a layer whose update has fewer
 * than k such directions uses as many as it has (the denominator is the smaller count), and a
 * client whose update is zero on a layer gives no row for it.
 */
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { coreMatrix, stackDual, type AdapterState, type LayerFactors } from '../adapters/state.js';
import type { MethodName } from '../config/schema.js';

export interface SimilarityRow {
  grouping: string;
  seed: number;
  method: MethodName;
  layer: string;
  client_a: string;
  client_b: string;
  /** How many leading singular directions each side keeps. */
  k: number;
  value: number;
}

export const SIMILARITY_COLUMNS = ['grouping', 'seed', 'method', 'layer', 'client_a', 'client_b', 'k', 'value'] as const;

const RELATIVE_TOL = 1e-6;

/**
 * Orthonormal basis (out × m, columns by decreasing singular value) of ΔW's column space, m ≤ r.
 * A FedDPA layer's two LoRAs count as one of rank 2r ([B, PB], [A; PA]). A frozen dense
 * correction R (FedEx) is left out: it is the same for every client, so it cannot tell clients
 * apart. The low-rank correction RB·RA of a decomposition start is part of the update
 * (B S A − RB RA is what the client learned on top of W) and is counted.
 */
export function updateColumnBasis(f: LayerFactors, rank: number, scaling: number): Matrix {
  if (f.PA && f.PB) return updateColumnBasis({ ...stackDual(f, rank), RA: f.RA, RB: f.RB }, 2 * rank, scaling);
  // ΔW / scale = P A with P = [B·diag(D)·S, −RB] and A = [A; RA] (state.ts updateFactors), in float64.
  const out = f.B.length / rank;
  const inF = f.A.length / rank;
  const k = f.RA && f.RB ? f.RA.length / inF : 0;
  const m = rank + k;
  let BS = new Matrix(out, rank);
  for (let o = 0; o < out; o++) for (let j = 0; j < rank; j++) BS.set(o, j, f.B[o * rank + j]);
  if (f.D) BS = BS.mmul(Matrix.diag(Array.from(f.D)));
  if (f.S) {
    const Sm = coreMatrix(f.S, rank);
    const S = new Matrix(rank, rank);
    for (let i = 0; i < rank; i++) for (let j = 0; j < rank; j++) S.set(i, j, Sm[i * rank + j]);
    BS = BS.mmul(S);
  }
  const P = new Matrix(out, m);
  for (let o = 0; o < out; o++) {
    for (let j = 0; j < rank; j++) P.set(o, j, BS.get(o, j));
    for (let j = 0; j < k; j++) P.set(o, rank + j, -f.RB![o * k + j]);
  }
  const A = new Matrix(m, inF);
  for (let i = 0; i < rank; i++) for (let c = 0; c < inF; c++) A.set(i, c, f.A[i * inF + c]);
  for (let i = 0; i < k; i++) for (let c = 0; c < inF; c++) A.set(rank + i, c, f.RA![i * inF + c]);
  const qr = new QrDecomposition(P);
  const K = qr.upperTriangularMatrix.mmul(A).mul(scaling); // m × in: ΔW = Q K
  const svd = new SingularValueDecomposition(K, { computeRightSingularVectors: false, autoTranspose: true });
  const sigma = svd.diagonal;
  const top = Math.max(0, ...sigma);
  const keep = sigma.map((s, i) => [s, i] as const).filter(([s]) => top > 0 && s > RELATIVE_TOL * top).sort((a, b) => b[0] - a[0]);
  if (keep.length === 0) return new Matrix(out, 0);
  const Uk = new Matrix(m, keep.length);
  const Us = svd.leftSingularVectors;
  keep.forEach(([, i], col) => {
    for (let row = 0; row < m; row++) Uk.set(row, col, Us.get(row, i));
  });
  return qr.orthogonalMatrix.mmul(Uk);
}

/** ||U_aᵀ U_b||²_F / min(cols): the two bases' leading `k` columns. */
export function basisSimilarity(Ua: Matrix, Ub: Matrix, k: number): number {
  const ka = Math.min(k, Ua.columns);
  const kb = Math.min(k, Ub.columns);
  if (ka === 0 || kb === 0) return NaN;
  const a = Ua.subMatrix(0, Ua.rows - 1, 0, ka - 1);
  const b = Ub.subMatrix(0, Ub.rows - 1, 0, kb - 1);
  const M = a.transpose().mmul(b);
  let s = 0;
  for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.columns; j++) s += M.get(i, j) ** 2;
  return Math.min(1, s / Math.min(ka, kb));
}

/**
 * One row per adapted layer, client pair (in the map's order, a before b) and k in `ks` (default
 * [rank]). Layers are those of the first client's state.
 */
export function subspaceSimilarityRows(
  ctx: { grouping: string; seed: number; method: MethodName },
  adapters: ReadonlyMap<string, AdapterState>,
  rank: number,
  scaling: number,
  ks: readonly number[] = [rank],
): SimilarityRow[] {
  const clients = [...adapters.keys()];
  if (clients.length < 2) return [];
  const rows: SimilarityRow[] = [];
  for (const layer of adapters.get(clients[0])!.keys()) {
    const bases = clients.map((c) => {
      const f = adapters.get(c)!.get(layer);
      if (!f) throw new Error(`client ${c} has no adapter on layer ${layer}`);
      return updateColumnBasis(f, rank, scaling);
    });
    for (let i = 0; i < clients.length; i++)
      for (let j = i + 1; j < clients.length; j++)
        for (const k of ks) {
          const value = basisSimilarity(bases[i], bases[j], k);
          if (Number.isFinite(value)) rows.push({ ...ctx, layer, client_a: clients[i], client_b: clients[j], k, value });
        }
  }
  return rows;
}
