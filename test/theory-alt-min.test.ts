import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runMethod } from '../src/theory/alt-min.js';
import { makeProblem, type ProblemSpec } from '../src/theory/low-rank-problem.js';

// Noiseless, well-conditioned, ξ = 1: CoLoRA's model holds exactly. One task alone would need
// about r(d_out + d_in − r) = 40 observations; the k tasks together have 6 × 60 = 360.
const easy: ProblemSpec = { dOut: 12, dIn: 10, rank: 2, k: 6, n: 60, xi: 1, conditionNumber: 1.5, noiseStd: 0, seed: 7 };

test('CoAltMin recovers the shared subspaces and every Θ*_i on noiseless ξ = 1 data', () => {
  const { trace } = runMethod(makeProblem(easy), 'coaltmin', { iterations: 30, tol: 0 });
  const last = trace[trace.length - 1];
  assert.ok(last.subspaceDistance < 1e-6, `subspace distance ${last.subspaceDistance}`);
  assert.ok(last.parameterError < 1e-6, `parameter error ${last.parameterError}`);
  assert.ok(last.trainRmse < 1e-6, `train rmse ${last.trainRmse}`);
});

test('CoAltMin converges linearly: the distance shrinks by at least 2x per iteration at first', () => {
  for (const seed of [7, 8, 9]) {
    const { trace } = runMethod(makeProblem({ ...easy, seed }), 'coaltmin', { iterations: 8, tol: 0 });
    const d = trace.map((t) => t.subspaceDistance);
    assert.ok(d[0] < 0.9, `seed ${seed}: the spectral initialisation is informative (${d[0]})`);
    for (let t = 0; t < 6 && d[t] > 1e-12; t++) {
      assert.ok(d[t + 1] <= 0.5 * d[t], `seed ${seed}: d[${t + 1}] = ${d[t + 1]} vs d[${t}] = ${d[t]}`);
    }
  }
});

test('the baselines are worse than CoAltMin with too few observations per task and high similarity', () => {
  for (const xi of [1, 0.95]) {
    // 30 observations per task < ~40 that one task needs; 8 tasks share the factors.
    const problem = makeProblem({ ...easy, k: 8, n: 30, xi, noiseStd: 1e-3, seed: 3 });
    const err = (m: 'coaltmin' | 'local' | 'shared') => {
      const { trace } = runMethod(problem, m, { iterations: 30, tol: 1e-8 });
      return trace[trace.length - 1].parameterError;
    };
    const co = err('coaltmin');
    const local = err('local');
    const shared = err('shared');
    assert.ok(co < 0.5 * local, `ξ=${xi}: coaltmin ${co} vs local ${local}`);
    assert.ok(co < 0.5 * shared, `ξ=${xi}: coaltmin ${co} vs shared ${shared}`);
  }
});

test('local AltMin recovers each task when it has enough data of its own', () => {
  const { trace } = runMethod(makeProblem({ ...easy, k: 2, n: 200, xi: 0 }), 'local', { iterations: 40, tol: 0 });
  assert.ok(trace[trace.length - 1].parameterError < 1e-6, `parameter error ${trace[trace.length - 1].parameterError}`);
});

test('stops early once the estimate stops moving, and records every iteration it ran', () => {
  const { trace } = runMethod(makeProblem(easy), 'coaltmin', { iterations: 50, tol: 1e-9 });
  assert.ok(trace.length < 51, `ran ${trace.length - 1} iterations`);
  assert.deepEqual(trace.map((t) => t.iteration), trace.map((_, i) => i));
});
