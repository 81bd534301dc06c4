/**
 * The theory figures (SVG + PNG, via src/report/chart.ts):
 *   distance-vs-iteration_k{k}_n{n}   subspace distance per iteration, one line per ξ and seed,
 *                                     one panel per method (log y);
 *   error-vs-xi_k{k}                  final parameter error vs ξ, one line per method, one panel
 *                                     per n (median over seeds, bars min–max);
 *   error-vs-n_k{k}                   final parameter error vs n per task, one panel per ξ.
 */
import { join } from 'node:path';
import { errorBarChart, lineChart, renderChart } from '../report/chart.js';
import type { TheoryConfig, TheoryMethod } from './theory-config.js';
import type { FinalStats } from './theory-stats.js';
import type { TheoryRow } from './theory-sweep.js';

export const METHOD_LABELS: Record<TheoryMethod, string> = {
  coaltmin: 'CoAltMin (CoLoRA)',
  local: 'local (each task alone)',
  shared: 'shared Θ (FedAvg-like)',
};

/** Log axes cannot show 0; exact zeros (noiseless, converged) are drawn at this floor. */
const LOG_FLOOR = 1e-16;
const floor = (v: number) => Math.max(v, LOG_FLOOR);

export async function writeTheoryPlots(cfg: TheoryConfig, rows: TheoryRow[], stats: FinalStats[], dir: string): Promise<string[]> {
  const written: string[] = [];
  const { d_out, d_in, rank } = cfg.dims;
  const setup = `d_out = ${d_out}, d_in = ${d_in}, rank ${rank}, noise σ = ${cfg.noise_std}, ${cfg.sweep.seeds.length} seeds`;

  for (const k of cfg.sweep.k) {
    for (const n of cfg.sweep.n_per_task) {
      const data = rows
        .filter((r) => r.k === k && r.n === n)
        .map((r) => ({
          iteration: r.iteration,
          distance: floor(r.subspace_distance),
          xi: String(r.xi),
          method: METHOD_LABELS[r.method],
          seed: r.seed,
        }));
      const spec = lineChart({
        title: `Distance to the shared subspaces per iteration: k = ${k} tasks, n = ${n} observations per task`,
        subtitle: `${setup}; one line per seed`,
        data,
        x: { field: 'iteration', title: 'iteration' },
        y: { field: 'distance', title: 'subspace distance sin θ_max to U*, V*', log: true },
        color: { field: 'xi', title: 'task similarity ξ' },
        detail: 'seed',
        column: { field: 'method', title: 'method' },
      });
      const files = await renderChart(spec, join(dir, `distance-vs-iteration_k${k}_n${n}`));
      written.push(files.svg, files.png);
    }

    const finals = stats
      .filter((s) => s.k === k)
      .map((s) => ({
        xi: s.xi,
        n: s.n,
        nLabel: `n = ${s.n}`,
        xiLabel: `ξ = ${s.xi}`,
        method: METHOD_LABELS[s.method],
        median: floor(s.parameterError.median),
        lo: floor(s.parameterError.min),
        hi: floor(s.parameterError.max),
      }));
    const yAxis = { field: 'median', title: 'final ‖Θ̂ᵢ − Θ*ᵢ‖_F / ‖Θ*ᵢ‖_F (mean over tasks)', log: true };
    const seeds = 'points: median over seeds, bars: min–max';

    const byXi = errorBarChart({
      title: `Final parameter error vs task similarity ξ: k = ${k} tasks`,
      subtitle: `${setup}; ${seeds}`,
      data: finals,
      x: { field: 'xi', title: 'task similarity ξ', type: 'ordinal' },
      y: yAxis,
      yLo: 'lo',
      yHi: 'hi',
      color: { field: 'method', title: 'method' },
      column: { field: 'nLabel', title: 'observations per task' },
    });
    const f1 = await renderChart(byXi, join(dir, `error-vs-xi_k${k}`));

    const byN = errorBarChart({
      title: `Final parameter error vs observations per task: k = ${k} tasks`,
      subtitle: `${setup}; ${seeds}`,
      data: finals,
      x: { field: 'n', title: 'observations per task n', type: 'ordinal' },
      y: yAxis,
      yLo: 'lo',
      yHi: 'hi',
      color: { field: 'method', title: 'method' },
      column: { field: 'xiLabel', title: 'task similarity' },
      width: 170,
    });
    const f2 = await renderChart(byN, join(dir, `error-vs-n_k${k}`));
    written.push(f1.svg, f1.png, f2.svg, f2.png);
  }
  return written;
}
