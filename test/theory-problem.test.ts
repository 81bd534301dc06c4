import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, SingularValueDecomposition, pseudoInverse } from 'ml-matrix';
import { makeProblem, type ProblemSpec } from '../src/theory/low-rank-problem.js';
import { fromFlat, leastSquares, randomOrthonormal, subspaceDistance, topLeftSingularVectors } from '../src/theory/linalg.js';
import { Rng } from '../src/util/rng.js';

const spec: ProblemSpec = { dOut: 12, dIn: 10, rank: 2, k: 3, n: 20, xi: 0.5, conditionNumber: 2, noiseStd: 0, seed: 1 };

test('ξ sets the principal angles to the shared subspaces: sin θ = sqrt(1 − ξ)', () => {
  for (const xi of [0, 0.3, 0.5, 0.9, 1]) {
    const p = makeProblem({ ...spec, xi });
    for (const task of p.tasks) {
      const theta = fromFlat(task.theta, spec.dOut, spec.dIn);
      const col = topLeftSingularVectors(theta, spec.rank);
      const row = topLeftSingularVectors(theta.transpose(), spec.rank);
      assert.ok(Math.abs(subspaceDistance(p.Ustar, col) - Math.sqrt(1 - xi)) < 1e-9, `column space at ξ=${xi}`);
      assert.ok(Math.abs(subspaceDistance(p.Vstar, row) - Math.sqrt(1 - xi)) < 1e-9, `row space at ξ=${xi}`);
      assert.ok(Math.abs(theta.norm('frobenius') - 1) < 1e-12, '‖Θ*_i‖_F = 1');
    }
  }
});

test('S*_i has the configured condition number and Θ*_i has rank r', () => {
  const p = makeProblem({ ...spec, conditionNumber: 3 });
  const s = new SingularValueDecomposition(fromFlat(p.tasks[0].theta, spec.dOut, spec.dIn)).diagonal;
  assert.ok(Math.abs(s[0] / s[1] - 3) < 1e-9, `σ1/σ2 = ${s[0] / s[1]}`);
  assert.ok(s[2] < 1e-12, `σ3 = ${s[2]}`);
});


test('observations are y = ⟨X, Θ*⟩ without noise, seeded, and nested in n and k', () => {
  const a = makeProblem(spec);
  const b = makeProblem({ ...spec, n: 35, k: 5 });
  const d = spec.dOut * spec.dIn;
  const t0 = a.tasks[0];
  for (let j = 0; j < t0.n; j++) {
    let dot = 0;
    for (let e = 0; e < d; e++) dot += t0.X[j * d + e] * t0.theta[e];
    assert.ok(Math.abs(dot - t0.y[j]) < 1e-12);
  }
  assert.deepEqual(Array.from(b.tasks[2].X.subarray(0, spec.n * d)), Array.from(a.tasks[2].X));
  assert.deepEqual(Array.from(b.tasks[1].theta), Array.from(a.tasks[1].theta));
  assert.deepEqual(makeProblem(spec).tasks[1].y, a.tasks[1].y, 'same seed, same data');
  assert.notDeepEqual(makeProblem({ ...spec, seed: 2 }).tasks[1].y, a.tasks[1].y);
});

test('subspaceDistance is the sine of the largest principal angle', () => {
  const U = new Matrix([[1], [0], [0]]);
  const at = (th: number) => new Matrix([[Math.cos(th)], [Math.sin(th)], [0]]);
  assert.ok(subspaceDistance(U, at(0)) < 1e-15);
  assert.ok(Math.abs(subspaceDistance(U, at(0.3)) - Math.sin(0.3)) < 1e-12);
  assert.ok(Math.abs(subspaceDistance(U, at(Math.PI / 2)) - 1) < 1e-12);
  assert.ok(Math.abs(subspaceDistance(U, at(1e-9)) - 1e-9) < 1e-18, 'accurate for tiny angles');
  const rng = new Rng(0);
  const Q = randomOrthonormal(rng, 8, 3);
  assert.ok(subspaceDistance(Q, Q.mmul(new Matrix([[2, 1, 0], [0, 1, 0], [0, 3, 5]]))) < 1e-14, 'basis-independent');
});

test('leastSquares: the LS solution when overdetermined, the minimum-norm interpolant when not', () => {
  const rng = new Rng(4);
  for (const [m, p] of [
    [30, 5],
    [4, 9],
  ]) {
    const D = new Matrix(m, p);
    for (let o = 0; o < m; o++) for (let i = 0; i < p; i++) D.set(o, i, rng.normal());
    const y = Float64Array.from({ length: m }, () => rng.normal());
    const F = new Float64Array(p * m);
    for (let o = 0; o < m; o++) for (let i = 0; i < p; i++) F[i * m + o] = D.get(o, i);
    const w = leastSquares(F, y, p, m);
    const expected = pseudoInverse(D).mmul(Matrix.columnVector(Array.from(y))).getColumn(0);
    for (let i = 0; i < p; i++) assert.ok(Math.abs(w[i] - expected[i]) < 1e-10, `${m}×${p}: w[${i}]`);
  }
});
