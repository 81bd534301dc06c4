/**
 * Heterogeneous low-rank matrix regression with a task-similarity knob ξ (docs/theory.md).
 *
 * Shared factors U* (d_out × r) and V* (d_in × r) with orthonormal columns. Task i has its own
 * directions G_i ⟂ U* and H_i ⟂ V* (random, orthonormal) and
 *     U_i = √ξ·U* + √(1−ξ)·G_i,   V_i = √ξ·V* + √(1−ξ)·H_i,   Θ*_i = U_i S*_i V_iᵀ,
 * so every principal angle θ between task i's column (row) space and the shared one has
 * cos²θ = ξ exactly: ξ = 1 is CoLoRA's model Θ*_i = B* S*_i A* with B* = U*, A* = V*ᵀ; ξ = 0 gives
 * each task an independent random subspace (inside the complement of U*). S*_i = P_i diag(s) Q_iᵀ
 * with random rotations P_i, Q_i and singular values s spaced geometrically from 1 to
 * 1/condition_number, scaled so that ||Θ*_i||_F = 1.
 *
 * Observations: y_ij = ⟨X_ij, Θ*_i⟩ + σ·ε_ij with X_ij, ε_ij i.i.d. N(0, 1).
 *
 * Random streams are keyed by seed and task index only, so for one seed the tasks' own directions
 * and S*_i are the same at every ξ, the first k tasks are the same for every larger k, and the
 * first n observations of a task are the same for every larger n: the sweep compares like with like.
 */
import type { Matrix } from 'ml-matrix';
import { Rng } from '../util/rng.js';
import { gaussian, qr, randomOrthonormal, toFlat } from './linalg.js';

export interface ProblemSpec {
  dOut: number;
  dIn: number;
  rank: number;
  /** Number of tasks. */
  k: number;
  /** Observations per task. */
  n: number;
  /** Task similarity in [0, 1]. */
  xi: number;
  conditionNumber: number;
  noiseStd: number;
  seed: number;
}

export interface RegressionTask {
  n: number;
  /** n sensing matrices, each d_out × d_in row-major, back to back. */
  X: Float64Array;
  y: Float64Array;
  /** Θ*_i, d_out × d_in row-major. */
  theta: Float64Array;
}

export interface LowRankProblem {
  spec: ProblemSpec;
  /** The shared column space U* (d_out × r) and row space V* (d_in × r). */
  Ustar: Matrix;
  Vstar: Matrix;
  tasks: RegressionTask[];
}

function singularValues(r: number, conditionNumber: number): number[] {
  const s = Array.from({ length: r }, (_, j) => (r === 1 ? 1 : conditionNumber ** (-j / (r - 1))));
  const norm = Math.hypot(...s);
  return s.map((v) => v / norm);
}

export function makeProblem(spec: ProblemSpec): LowRankProblem {
  const { dOut, dIn, rank: r, xi, seed } = spec;
  if (!(xi >= 0 && xi <= 1)) throw new RangeError(`xi must lie in [0, 1], got ${xi}`);
  const dimsKey = `${dOut}x${dIn}r${r}`;
  const shared = Rng.derive(seed, 'theory', dimsKey, 'shared');
  const Ustar = randomOrthonormal(shared, dOut, r);
  const Vstar = randomOrthonormal(shared, dIn, r);
  const s = singularValues(r, spec.conditionNumber);
  const a = Math.sqrt(xi);
  const b = Math.sqrt(1 - xi);
  const d = dOut * dIn;

  const tasks: RegressionTask[] = [];
  for (let i = 0; i < spec.k; i++) {
    const own = Rng.derive(seed, 'theory', dimsKey, 'task', i);
    const G = randomOrthonormal(own, dOut, r, Ustar);
    const H = randomOrthonormal(own, dIn, r, Vstar);
    const P = qr(gaussian(own, r, r)).Q;
    const Q = qr(gaussian(own, r, r)).Q;
    const S = P.mulRowVector(s).mmul(Q.transpose()); // P diag(s) Qᵀ
    const Ui = Ustar.clone().mul(a).add(G.clone().mul(b));
    const Vi = Vstar.clone().mul(a).add(H.clone().mul(b));
    const theta = toFlat(Ui.mmul(S).mmul(Vi.transpose()));

    const sensing = Rng.derive(seed, 'theory', dimsKey, 'sensing', i);
    const X = new Float64Array(spec.n * d);
    const y = new Float64Array(spec.n);
    for (let j = 0; j < spec.n; j++) {
      let dot = 0;
      for (let e = 0; e < d; e++) {
        const x = sensing.normal();
        X[j * d + e] = x;
        dot += x * theta[e];
      }
      y[j] = dot + spec.noiseStd * sensing.normal();
    }
    tasks.push({ n: spec.n, X, y, theta });
  }
  return { spec, Ustar, Vstar, tasks };
}
