/** Per-(ξ, k, n, method) statistics of the final iterate over seeds, for the summary and the plots. */
import { finalRows, type TheoryRow } from './theory-sweep.js';
import type { TheoryMethod } from './theory-config.js';

export interface SeedStats {
  mean: number;
  /** Sample standard deviation (n − 1); 0 for a single seed. */
  std: number;
  median: number;
  min: number;
  max: number;
}

export interface FinalStats {
  xi: number;
  k: number;
  n: number;
  method: TheoryMethod;
  seeds: number;
  parameterError: SeedStats;
  subspaceDistance: SeedStats;
  /** Iterations run after the initialisation (fewer than configured when it stopped early). */
  iterations: SeedStats;
}

export function seedStats(values: number[]): SeedStats {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  const mean = v.reduce((s, x) => s + x, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : 0;
  const median = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return { mean, std, median, min: v[0], max: v[n - 1] };
}

/** Final-iterate statistics, in sweep order (k, n, ξ, method as configured). */
export function finalStats(rows: TheoryRow[]): FinalStats[] {
  const groups = new Map<string, TheoryRow[]>();
  for (const row of finalRows(rows)) {
    const key = `${row.k}|${row.n}|${row.xi}|${row.method}`;
    const list = groups.get(key) ?? [];
    list.push(row);
    groups.set(key, list);
  }
  return [...groups.values()].map((list) => ({
    xi: list[0].xi,
    k: list[0].k,
    n: list[0].n,
    method: list[0].method,
    seeds: list.length,
    parameterError: seedStats(list.map((r) => r.parameter_error)),
    subspaceDistance: seedStats(list.map((r) => r.subspace_distance)),
    iterations: seedStats(list.map((r) => r.iteration)),
  }));
}
