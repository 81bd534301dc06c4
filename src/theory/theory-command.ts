/**
 * `colora theory --config FILE [--out DIR] [--quiet]`: the heterogeneous low-rank regression
 * sweep (docs/theory.md). Writes theory.csv, config.resolved.yaml, summary.md and plots/.
 */
import { join } from 'node:path';
import { stringify as csvStringify } from 'csv-stringify/sync';
import { stringify as yamlStringify } from 'yaml';
import { writeFileAtomic } from '../util/atomic.js';
import { Progress } from '../util/progress.js';
import { UsageError } from '../util/errors.js';
import { loadTheoryConfig } from './theory-config.js';
import { finalStats } from './theory-stats.js';
import { runCell, sweepCells, THEORY_COLUMNS, type TheoryRow } from './theory-sweep.js';
import { theorySummary } from './theory-summary.js';
import { writeTheoryPlots } from './theory-plots.js';

export interface TheoryOptions {
  config?: string;
  out?: string;
  quiet?: boolean;
}

/** Numbers to 7 significant digits: plenty for errors, and keeps theory.csv small. */
function csvValue(v: string | number): string | number {
  return typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(7)) : v;
}

export async function theoryCommand(opts: TheoryOptions): Promise<void> {
  if (!opts.config) throw new UsageError('theory: --config FILE is required');
  const cfg = loadTheoryConfig(opts.config);
  const out = opts.out ?? 'results/theory';
  const t0 = Date.now();

  const cells = sweepCells(cfg);
  const progress = new Progress('theory', cells.length, { quiet: opts.quiet });
  const rows: TheoryRow[] = [];
  for (const cell of cells) {
    rows.push(...runCell(cfg, cell));
    progress.tick(`ξ=${cell.xi} k=${cell.k} n=${cell.n} seed=${cell.seed}`);
  }
  progress.stop();

  writeFileAtomic(join(out, 'config.resolved.yaml'), yamlStringify(cfg));
  writeFileAtomic(
    join(out, 'theory.csv'),
    csvStringify(
      rows.map((r) => THEORY_COLUMNS.map((c) => csvValue(r[c]))),
      { header: true, columns: THEORY_COLUMNS },
    ),
  );
  const stats = finalStats(rows);
  await writeTheoryPlots(cfg, rows, stats, join(out, 'plots'));
  const wall = (Date.now() - t0) / 1000;
  writeFileAtomic(join(out, 'summary.md'), theorySummary(cfg, stats, wall));
  if (!opts.quiet) process.stderr.write(`theory: ${cells.length} cells, ${rows.length} rows in ${wall.toFixed(1)} s → ${out}\n`);
}
