/**
 * Alternating minimisation for Θ_g = B S_g A (B: d_out × r, A: r × d_in, S_g: r × r), with exact
 * least-squares block updates. One routine covers the three estimators by how observations are
 * grouped (docs/theory.md):
 *
 *   coaltmin  one (B, A) shared by all tasks, one S_i per task         (CoLoRA's model)
 *   local     each task alone: its own (B_i, A_i, S_i), its own data
 *   shared    one Θ = B S A for all tasks, fitted to the pooled data    (FedAvg-like)
 *
 * A "block" owns one (B, A) and the data of its tasks; a "group" inside a block owns one S.
 *
 * Per block: spectral initialisation (B₀, A₀ = leading singular vectors of the stacked per-group
 * means [M_g1 … M_gm], M_g = mean_j y_j X_j), then S-step. Each iteration: B-step (one least-squares
 * problem in d_out·r unknowns pooled over the block's groups), re-orthonormalise B by QR and fold
 * R into every S_g; A-step (r·d_in unknowns), likewise; S-step (one r²-unknown problem per group).
 */
import { Matrix } from 'ml-matrix';
import type { LowRankProblem } from './low-rank-problem.js';
import type { TheoryMethod } from './theory-config.js';
import { fromFlat, leastSquares, qr, subspaceDistance, topLeftSingularVectors } from './linalg.js';

export interface IterationRecord {
  /** 0 = after the spectral initialisation and the first S-step. */
  iteration: number;
  /** sin of the largest principal angle to the shared U* / V*, worst of the two; mean over blocks. */
  subspaceDistance: number;
  /** mean over tasks of ||Θ̂_i − Θ*_i||_F / ||Θ*_i||_F. */
  parameterError: number;
  /** sqrt(mean squared training residual) over all observations. */
  trainRmse: number;
}

export interface AltMinOptions {
  iterations: number;
  /** Stop once every Θ̂_i moves by less than this, relative (Frobenius, all tasks together). */
  tol: number;
}

export interface AltMinResult {
  trace: IterationRecord[];
  /** Final Θ̂_i per task, d_out × d_in row-major. */
  thetas: Float64Array[];
}

interface Block {
  /** Task indices per group; a group shares one S. */
  groups: number[][];
  /** Observations in the block, in group → task → observation order. */
  nObs: number;
  B: Float64Array; // d_out × r
  A: Float64Array; // r × d_in
  S: Float64Array[]; // per group, r × r
  /** y of every observation, in block order. */
  y: Float64Array;
  /** X_j Aᵀ per observation (d_out × r each), valid for the current A. */
  T: Float64Array;
  /** Sum of squared training residuals after the last S-step. */
  sse: number;
}

export function groupingFor(method: TheoryMethod, k: number): number[][][] {
  const all = Array.from({ length: k }, (_, i) => i);
  switch (method) {
    case 'coaltmin':
      return [all.map((i) => [i])];
    case 'local':
      return all.map((i) => [[i]]);
    case 'shared':
      return [[all]];
  }
}

export function runMethod(problem: LowRankProblem, method: TheoryMethod, opts: AltMinOptions): AltMinResult {
  return altMin(problem, groupingFor(method, problem.tasks.length), opts);
}

/** `blockGroups[b][g]` lists the tasks of group g in block b; every task must appear exactly once. */
export function altMin(problem: LowRankProblem, blockGroups: number[][][], opts: AltMinOptions): AltMinResult {
  const { dOut, dIn, rank: r } = problem.spec;
  const d = dOut * dIn;
  const rr = r * r;
  const tasks = problem.tasks;
  const seen = blockGroups.flat(2).sort((a, b) => a - b);
  if (seen.length !== tasks.length || seen.some((t, i) => t !== i)) throw new Error('altMin: every task must be in exactly one group');

  // Feature-major design matrices (feature i of observation o at i·m + o), reused by all steps.
  const maxObs = Math.max(...blockGroups.map((groups) => groups.flat().reduce((s, t) => s + tasks[t].n, 0)));
  const F = new Float64Array(Math.max(dOut * r, r * dIn, rr) * maxObs);
  const C = new Float64Array(dOut * r);
  const f = new Float64Array(r * dIn);

  /** Calls visit(X, offset of X_j, group index, observation index in block). */
  const forEachObs = (blk: Block, visit: (X: Float64Array, off: number, g: number, o: number) => void) => {
    let o = 0;
    blk.groups.forEach((group, g) => {
      for (const t of group) {
        const { X, n } = tasks[t];
        for (let j = 0; j < n; j++) visit(X, j * d, g, o++);
      }
    });
  };

  /** T_j = X_j Aᵀ for every observation of the block. */
  const refreshT = (blk: Block) => {
    const { A, T } = blk;
    forEachObs(blk, (X, off, _g, o) => {
      const base = o * dOut * r;
      for (let a = 0; a < dOut; a++) {
        const xr = off + a * dIn;
        for (let c = 0; c < r; c++) {
          let s = 0;
          const ar = c * dIn;
          for (let b = 0; b < dIn; b++) s += X[xr + b] * A[ar + b];
          T[base + a * r + c] = s;
        }
      }
    });
  };

  /** Per group: ⟨X, B S A⟩ = Σ_{q,c} S[q,c]·(Bᵀ X Aᵀ)[q,c]. Needs T fresh for the current A. */
  const stepS = (blk: Block) => {
    const { B, T } = blk;
    let first = 0;
    blk.sse = 0;
    blk.groups.forEach((group, g) => {
      const m = group.reduce((s, t) => s + tasks[t].n, 0);
      for (let j = 0; j < m; j++) {
        const base = (first + j) * dOut * r;
        for (let q = 0; q < r; q++)
          for (let c = 0; c < r; c++) {
            let s = 0;
            for (let a = 0; a < dOut; a++) s += B[a * r + q] * T[base + a * r + c];
            F[(q * r + c) * m + j] = s;
          }
      }
      const y = blk.y.subarray(first, first + m);
      const S = leastSquares(F, y, rr, m);
      blk.S[g] = S;
      for (let j = 0; j < m; j++) {
        let pred = 0;
        for (let e = 0; e < rr; e++) pred += F[e * m + j] * S[e];
        blk.sse += (y[j] - pred) ** 2;
      }
      first += m;
    });
  };

  /** Pooled over the block: ⟨X, B S A⟩ = Σ_{a,q} B[a,q]·(X Aᵀ Sᵀ)[a,q]. Needs T fresh. */
  const stepB = (blk: Block) => {
    const p = dOut * r;
    const m = blk.nObs;
    const { T } = blk;
    forEachObs(blk, (_X, _off, g, o) => {
      const S = blk.S[g];
      const base = o * dOut * r;
      for (let a = 0; a < dOut; a++)
        for (let q = 0; q < r; q++) {
          let s = 0;
          for (let c = 0; c < r; c++) s += T[base + a * r + c] * S[q * r + c];
          F[(a * r + q) * m + o] = s;
        }
    });
    const { Q, R } = qr(fromFlat(leastSquares(F, blk.y, p, m), dOut, r));
    blk.B = Float64Array.from(Q.to1DArray());
    blk.S = blk.S.map((S) => Float64Array.from(R.mmul(fromFlat(S, r, r)).to1DArray())); // B S = Q (R S)
  };

  /** Pooled over the block: ⟨X, B S A⟩ = Σ_{c,b} A[c,b]·((B S)ᵀ X)[c,b]. Leaves T stale. */
  const stepA = (blk: Block) => {
    const p = r * dIn;
    const m = blk.nObs;
    let lastGroup = -1;
    forEachObs(blk, (X, off, g, o) => {
      if (g !== lastGroup) {
        // C = B S_g (d_out × r)
        const S = blk.S[g];
        for (let a = 0; a < dOut; a++)
          for (let c = 0; c < r; c++) {
            let s = 0;
            for (let q = 0; q < r; q++) s += blk.B[a * r + q] * S[q * r + c];
            C[a * r + c] = s;
          }
        lastGroup = g;
      }
      f.fill(0);
      for (let a = 0; a < dOut; a++) {
        const xr = off + a * dIn;
        for (let c = 0; c < r; c++) {
          const cac = C[a * r + c];
          const fr = c * dIn;
          for (let b = 0; b < dIn; b++) f[fr + b] += cac * X[xr + b];
        }
      }
      for (let e = 0; e < p; e++) F[e * m + o] = f[e];
    });
    const { Q, R } = qr(fromFlat(leastSquares(F, blk.y, p, m), r, dIn).transpose()); // Aᵀ = Q R, so S A = S Rᵀ Qᵀ
    blk.A = Float64Array.from(Q.transpose().to1DArray());
    blk.S = blk.S.map((S) => Float64Array.from(fromFlat(S, r, r).mmul(R.transpose()).to1DArray()));
  };

  /** B₀, A₀: leading singular vectors of [M_g1 … M_gm] and [M_g1ᵀ … M_gmᵀ], M_g = mean y X. */
  const spectralInit = (groups: number[][]): Block => {
    const nObs = groups.flat().reduce((s, t) => s + tasks[t].n, 0);
    const cols = new Matrix(dOut, dIn * groups.length);
    const rows = new Matrix(dIn, dOut * groups.length);
    groups.forEach((group, g) => {
      const M = new Float64Array(d);
      let n = 0;
      for (const t of group) {
        const { X, y } = tasks[t];
        for (let j = 0; j < tasks[t].n; j++) for (let e = 0; e < d; e++) M[e] += y[j] * X[j * d + e];
        n += tasks[t].n;
      }
      const Mg = fromFlat(M.map((v) => v / n), dOut, dIn);
      cols.setSubMatrix(Mg, 0, g * dIn);
      rows.setSubMatrix(Mg.transpose(), 0, g * dOut);
    });
    return {
      groups,
      nObs,
      B: Float64Array.from(topLeftSingularVectors(cols, r).to1DArray()),
      A: Float64Array.from(topLeftSingularVectors(rows, r).transpose().to1DArray()),
      S: groups.map(() => new Float64Array(rr)),
      y: Float64Array.from(groups.flat().flatMap((t) => Array.from(tasks[t].y))),
      T: new Float64Array(nObs * dOut * r),
      sse: 0,
    };
  };

  const blocks = blockGroups.map((groups) => spectralInit(groups));
  const taskBlock = new Map<number, { blk: Block; g: number }>();
  for (const blk of blocks) blk.groups.forEach((group, g) => group.forEach((t) => taskBlock.set(t, { blk, g })));

  const fitted = (): Float64Array[] =>
    tasks.map((_, t) => {
      const { blk, g } = taskBlock.get(t)!;
      return Float64Array.from(fromFlat(blk.B, dOut, r).mmul(fromFlat(blk.S[g], r, r)).mmul(fromFlat(blk.A, r, dIn)).to1DArray());
    });

  const record = (iteration: number, thetas: Float64Array[]): IterationRecord => {
    let dist = 0;
    let sq = 0;
    for (const blk of blocks) {
      const dB = subspaceDistance(problem.Ustar, fromFlat(blk.B, dOut, r));
      const dA = subspaceDistance(problem.Vstar, fromFlat(blk.A, r, dIn).transpose());
      dist += Math.max(dB, dA);
      sq += blk.sse;
    }
    let err = 0;
    tasks.forEach((task, t) => {
      let diff = 0;
      let norm = 0;
      for (let e = 0; e < d; e++) {
        diff += (thetas[t][e] - task.theta[e]) ** 2;
        norm += task.theta[e] ** 2;
      }
      err += Math.sqrt(diff / norm);
    });
    const nObs = blocks.reduce((s, b) => s + b.nObs, 0);
    return { iteration, subspaceDistance: dist / blocks.length, parameterError: err / tasks.length, trainRmse: Math.sqrt(sq / nObs) };
  };

  for (const blk of blocks) {
    refreshT(blk);
    stepS(blk);
  }
  let thetas = fitted();
  const trace = [record(0, thetas)];
  for (let it = 1; it <= opts.iterations; it++) {
    for (const blk of blocks) {
      stepB(blk);
      stepA(blk);
      refreshT(blk);
      stepS(blk);
    }
    const next = fitted();
    let change = 0;
    let norm = 0;
    next.forEach((th, t) => {
      for (let e = 0; e < d; e++) {
        change += (th[e] - thetas[t][e]) ** 2;
        norm += th[e] ** 2;
      }
    });
    thetas = next;
    trace.push(record(it, thetas));
    if (Math.sqrt(change / Math.max(norm, Number.MIN_VALUE)) < opts.tol) break;
  }
  return { trace, thetas };
}
