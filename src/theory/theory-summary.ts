/** summary.md for `colora theory`: final errors per (k, n, ξ) × method, mean ± std over seeds. */
import type { TheoryConfig, TheoryMethod } from './theory-config.js';
import type { FinalStats, SeedStats } from './theory-stats.js';
import { METHOD_LABELS } from './theory-plots.js';

const sci = (v: number) => (v === 0 ? '0' : v.toExponential(1));
const meanStd = (s: SeedStats) => `${sci(s.mean)} ± ${sci(s.std)}`;

function table(cfg: TheoryConfig, stats: FinalStats[], cellText: (s: FinalStats) => string): string {
  const methods: TheoryMethod[] = cfg.methods;
  const lines = [
    `| k | n per task | ξ | ${methods.map((m) => METHOD_LABELS[m]).join(' | ')} |`,
    `|---|---|---|${methods.map(() => '---').join('|')}|`,
  ];
  const byCell = new Map<string, Map<TheoryMethod, FinalStats>>();
  for (const s of stats) {
    const key = `${s.k}|${s.n}|${s.xi}`;
    if (!byCell.has(key)) byCell.set(key, new Map());
    byCell.get(key)!.set(s.method, s);
  }
  for (const cell of byCell.values()) {
    const any = cell.values().next().value!;
    lines.push(`| ${any.k} | ${any.n} | ${any.xi} | ${methods.map((m) => (cell.has(m) ? cellText(cell.get(m)!) : '–')).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function theorySummary(cfg: TheoryConfig, stats: FinalStats[], wallSeconds: number): string {
  const { d_out, d_in, rank } = cfg.dims;
  const seeds = cfg.sweep.seeds.length;
  return [
    `# ${cfg.name}: CoAltMin vs local vs shared on heterogeneous low-rank regression`,
    '',
    `Θ*ᵢ is ${d_out} × ${d_in} of rank ${rank}, condition number of S*ᵢ ${cfg.condition_number}, noise σ = ${cfg.noise_std} ` +
      `(‖Θ*ᵢ‖_F = 1), Gaussian sensing; up to ${cfg.iterations} iterations (stop when Θ̂ moves < ${cfg.tol.toExponential(0)} relative); ` +
      `${seeds} seed${seeds === 1 ? '' : 's'}; wall time ${wallSeconds.toFixed(1)} s. Model and definitions: docs/theory.md.`,
    '',
    '## Final parameter error ‖Θ̂ᵢ − Θ*ᵢ‖_F / ‖Θ*ᵢ‖_F (mean over tasks; mean ± std over seeds)',
    '',
    table(cfg, stats, (s) => meanStd(s.parameterError)),
    '',
    '## Final distance to the shared subspaces U*, V* (sin of the largest principal angle; mean ± std over seeds)',
    '',
    'For `local` it is the mean over tasks of each task\'s own estimate.',
    '',
    table(cfg, stats, (s) => meanStd(s.subspaceDistance)),
    '',
    '## Iterations run (median over seeds)',
    '',
    table(cfg, stats, (s) => String(s.iterations.median)),
    '',
  ].join('\n');
}
