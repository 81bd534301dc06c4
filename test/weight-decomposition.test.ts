import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { luTopR, topSvd, weightMatrix } from '../src/adapters/weight-decomposition.js';
import type { FrozenWeight } from '../src/model/linear-delta.js';
import { Rng } from '../src/util/rng.js';

/** W [out = 5, in = 4] as nn.Linear stores it. */
const W = [
  [0.5, -1.2, 0.3, 2.0],
  [1.5, 0.4, -0.7, 0.1],
  [-2.5, 0.9, 1.1, -0.3],
  [0.2, -0.6, 2.2, 0.8],
  [1.0, 1.3, -0.4, -1.6],
];

function linear(rows: number[][]): FrozenWeight {
  return { data: Float32Array.from(rows.flat()), layout: 'out_in', inFeatures: rows[0].length, outFeatures: rows.length };
}

/** The same weight in GPT-2's Conv1D layout [in, out]. */
function conv1d(rows: number[][]): FrozenWeight {
  const t = rows[0].map((_, i) => rows.map((r) => r[i]));
  return { data: Float32Array.from(t.flat()), layout: 'in_out', inFeatures: rows[0].length, outFeatures: rows.length };
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('both layouts read as the same [out, in] matrix', () => {
  assert.deepEqual(weightMatrix(conv1d(W)).to2DArray(), weightMatrix(linear(W)).to2DArray());
});

test('LU with partial pivoting matches torch.linalg.lu (P L D U, first r = 3 parts), in either layout', () => {
  // Reference: PyTorch 1.13 torch.linalg.lu on W in float64, D = diag(U), U / D row-wise, (P L)[:, :3].
  const PL = [[-0.2, -0.614457831325, 0.236698785086], [-0.6, 0.566265060241, -0.027230833682], [1, 0, 0], [-0.08, -0.318072289157, 1], [-0.4, 1, 0]];
  const d = [-2.5, 1.66, 2.300722891566];
  const U = [[1, -0.36, -0.44, 0.12], [0, 1, 0.024096385542, -1.036144578313], [0, 0, 1, 0.099497276917]];
  for (const w of [linear(W), conv1d(W)]) {
    const lu = luTopR(w, 3);
    close(lu.PL, PL.flat(), 1e-6, `PL (${w.layout})`);
    close(lu.d, d, 1e-6, 'd');
    close(lu.U, U.flat(), 1e-6, 'U');
    assert.deepEqual(Array.from(lu.perm), [2, 4, 3]);
  }
});

test('LU at full rank reconstructs W exactly: W = (P L) diag(d) U', () => {
  const lu = luTopR(linear(W), 4);
  for (let o = 0; o < 5; o++)
    for (let i = 0; i < 4; i++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += lu.PL[o * 4 + k] * lu.d[k] * lu.U[k * 4 + i];
      assert.ok(Math.abs(s - W[o][i]) < 1e-6, `(${o}, ${i}): ${s} vs ${W[o][i]}`);
    }
});

test('top-r SVD: singular values as PyTorch gives them, orthonormal factors, U Σ Vᵀ the best rank-r part', () => {
  // torch.linalg.svdvals(W) in float64 (PyTorch 1.13).
  const sv = [3.617221141248, 3.401888521029, 1.795816818033, 0.67668874815];
  for (const w of [linear(W), conv1d(W)]) {
    const s = topSvd(w, 2);
    close(s.sigma, sv.slice(0, 2), 1e-6, 'sigma');
    // Residual of the rank-2 part: its norm² is σ3² + σ4² (Eckart–Young).
    let res = 0;
    for (let o = 0; o < 5; o++)
      for (let i = 0; i < 4; i++) {
        let x = W[o][i];
        for (let k = 0; k < 2; k++) x -= s.U[o * 2 + k] * s.sigma[k] * s.Vt[k * 4 + i];
        res += x * x;
      }
    assert.ok(Math.abs(res - (sv[2] ** 2 + sv[3] ** 2)) < 1e-5, `residual ${res}`);
  }
});

test('the randomized SVD of a large layer finds the same top-r subspace as the dense one', () => {
  // 96 × 160 with a decaying spectrum (σ_k = 0.85^k), as trained weights have.
  const rng = new Rng(4);
  const G = (rows: number, cols: number) => Matrix.from1DArray(rows, cols, Array.from({ length: rows * cols }, () => rng.normal()));
  const svdU = new SingularValueDecomposition(G(96, 96)).leftSingularVectors;
  const svdV = new SingularValueDecomposition(G(160, 96)).leftSingularVectors;
  const M = svdU.mmul(Matrix.diag(Array.from({ length: 96 }, (_, k) => 0.85 ** k))).mmul(svdV.transpose());
  const w: FrozenWeight = { data: Float32Array.from(M.to1DArray()), layout: 'out_in', inFeatures: 160, outFeatures: 96 };
  const dense = topSvd(w, 6, 0, { dense: true });
  const fast = topSvd(w, 6, 0, { dense: false });
  close(fast.sigma, dense.sigma, 1e-4, 'sigma');
  // Same column space: |U_denseᵀ U_fast| has singular values 1.
  const Ud = Matrix.from1DArray(96, 6, Array.from(dense.U));
  const Uf = Matrix.from1DArray(96, 6, Array.from(fast.U));
  const cos = new SingularValueDecomposition(Ud.transpose().mmul(Uf)).diagonal;
  for (const c of cos) assert.ok(c > 1 - 1e-4, `principal cosine ${c}`);
});

test('a rank larger than the layer allows is refused', () => {
  assert.throws(() => topSvd(linear(W), 5), /between 1 and min\(in, out\) = 4/);
  assert.throws(() => luTopR(linear(W), 0), /between 1 and/);
});
