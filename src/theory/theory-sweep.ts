/**
 * The theory sweep: for every (seed, k, n per task, ξ) draw one problem and fit every configured
 * estimator to the same data, keeping the per-iteration trace.
 */
import { runMethod } from './alt-min.js';
import { makeProblem } from './low-rank-problem.js';
import type { TheoryConfig, TheoryMethod } from './theory-config.js';

/** One theory.csv row; the first eight columns are the issue's, the rest are extras. */
export interface TheoryRow {
  xi: number;
  k: number;
  n: number;
  seed: number;
  method: TheoryMethod;
  iteration: number;
  subspace_distance: number;
  parameter_error: number;
  train_rmse: number;
}

export const THEORY_COLUMNS: (keyof TheoryRow)[] = [
  'xi',
  'k',
  'n',
  'seed',
  'method',
  'iteration',
  'subspace_distance',
  'parameter_error',
  'train_rmse',
];

export interface Cell {
  xi: number;
  k: number;
  n: number;
  seed: number;
}

export function sweepCells(cfg: TheoryConfig): Cell[] {
  const cells: Cell[] = [];
  for (const seed of cfg.sweep.seeds)
    for (const k of cfg.sweep.k)
      for (const n of cfg.sweep.n_per_task) for (const xi of cfg.sweep.xi) cells.push({ xi, k, n, seed });
  return cells;
}

export function runCell(cfg: TheoryConfig, cell: Cell): TheoryRow[] {
  const problem = makeProblem({
    dOut: cfg.dims.d_out,
    dIn: cfg.dims.d_in,
    rank: cfg.dims.rank,
    k: cell.k,
    n: cell.n,
    xi: cell.xi,
    conditionNumber: cfg.condition_number,
    noiseStd: cfg.noise_std,
    seed: cell.seed,
  });
  const rows: TheoryRow[] = [];
  for (const method of cfg.methods) {
    const { trace } = runMethod(problem, method, { iterations: cfg.iterations, tol: cfg.tol });
    for (const t of trace) {
      rows.push({
        ...cell,
        method,
        iteration: t.iteration,
        subspace_distance: t.subspaceDistance,
        parameter_error: t.parameterError,
        train_rmse: t.trainRmse,
      });
    }
  }
  return rows;
}

/** The last recorded iteration of every (cell, method) run. */
export function finalRows(rows: TheoryRow[]): TheoryRow[] {
  const last = new Map<string, TheoryRow>();
  for (const row of rows) {
    const key = `${row.xi}|${row.k}|${row.n}|${row.seed}|${row.method}`;
    const prev = last.get(key);
    if (!prev || row.iteration > prev.iteration) last.set(key, row);
  }
  return [...last.values()];
}
