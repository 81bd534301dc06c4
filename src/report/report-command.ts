/**
 * `colora report --run DIR`: rebuild summary.md, task-similarity.csv and plots/ of a run or sweep
 * directory from its files (config.resolved.yaml, results.csv, log.jsonl, similarity.csv or the
 * saved adapters). `colora sweep` calls writeReport at its end.
 */
import { writeFileAtomic } from '../util/atomic.js';
import { mean } from './stats.js';
import { overviewTable, summaryMarkdown, table } from './tables.js';
import { loadRunData, type RunData } from './run-data.js';
import { writePlots, type PlotsOutcome } from './plots.js';
import { writeSimilarityCsv, writeTaskSimilarityCsv } from './similarity-files.js';
import { existsSync } from 'node:fs';
import { runFile, stopNote } from '../experiment/run-layout.js';
import { withRunLock } from '../experiment/run-lock.js';

export interface ReportOutcome {
  summary: string;
  plots: PlotsOutcome;
}

function taskSimilarityNotes(d: RunData): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [g, s] of d.taskSimilarity) {
    if (!s.pairs.length) continue;
    const pairs = s.pairs.map((p) => `${p.a}–${p.b} ${p.value.toFixed(2)}`).join(', ');
    out.set(g, [`Measured task similarity ${s.mean.toFixed(2)} (client pairs: ${pairs}).`]);
  }
  return out;
}

function subspaceSection(d: RunData): string[] {
  if (!d.subspace.length) return [];
  const ks = [...new Set(d.subspace.map((r) => r.k))].sort((a, b) => b - a);
  const keys = [...new Set(d.subspace.map((r) => `${r.grouping}\u0000${r.method}`))];
  const rows = keys.map((key) => {
    const [g, m] = key.split('\u0000');
    const sel = d.subspace.filter((r) => r.grouping === g && r.method === m);
    return [g, m, ...ks.map((k) => mean(sel.filter((r) => r.k === k).map((r) => r.value)).toFixed(3))];
  });
  return [
    '## Subspace similarity of client updates',
    '',
    `‖U_iᵀU_j‖²_F / k for the top-k left singular vectors of two clients' updates ΔW on the same layer (docs/method.md), mean over layers, client pairs and seeds (per layer and pair: \`similarity.csv\`). CoLoRA's updates share B (and, with S_i invertible, its column space), so their top-${ks[0]} similarity is 1 by construction; their top-1 direction shows how far S_i personalises them.`,
    '',
    table(['grouping', 'method', ...ks.map((k) => `top-${k}`)], rows),
  ];
}

/** CoLoRA's cores at the last round (log.jsonl): how far they moved, their conditioning, the personal share. */
function coreSection(d: RunData): string[] {
  const sel = d.log.filter((l) => l.method === 'colora' && l.core_change !== undefined);
  if (!sel.length) return [];
  const c = d.config.colora;
  const rows = [...new Set(sel.map((l) => l.grouping))].map((g) => {
    const mine = sel.filter((l) => l.grouping === g);
    const last = Math.max(...mine.map((l) => l.round));
    const at = mine.filter((l) => l.round === last);
    const f = (k: 'core_change' | 'core_cond' | 'personal_share') => {
      const v = at.map((l) => l[k]!).filter(Number.isFinite);
      return v.length ? `${mean(v).toFixed(3)} (${Math.min(...v).toFixed(3)}–${Math.max(...v).toFixed(3)})` : 'n/a';
    };
    return [g, String(last), f('core_change'), f('core_cond'), f('personal_share')];
  });
  return [
    "## CoLoRA's personal cores",
    '',
    `Reading: core ${c.core}, core_init ${c.core_init}, shared_init ${c.shared_init}, core_lr_multiplier ${c.core_lr_multiplier}, schedule ${c.schedule}${c.schedule === 'alternating' ? ` (${c.core_steps} core steps)` : ''}, normalize ${c.normalize} (docs/method.md, "CoLoRA's options"). At the last logged round, mean (min–max) over clients and seeds: ‖S_i − S_i(0)‖_F / ‖S_i(0)‖_F (‖S_i‖_F for a zero start), the largest cond(S_i) over layers, and the share ‖B (S_i − S̄) A‖_F / ‖ΔW_i‖_F of each client's update that differs from the clients' mean core.`,
    '',
    table(['grouping', 'round', 'core change', 'cond(S_i)', 'personal share'], rows),
  ];
}

function figuresSection(p: PlotsOutcome): string[] {
  return [
    '## Figures',
    '',
    ...p.figures.map((f) => `- ${f.caption}: [plots/${f.name}.svg](plots/${f.name}.svg) ([PNG](plots/${f.name}.png))`),
    ...p.skipped.map((s) => `- ${s}`),
  ];
}

function runNote(d: RunData): string {
  const c = d.config;
  const cells = d.groupings.length * d.seeds.length * c.methods.length;
  const done = new Set(d.results.map((r) => `${r.grouping}/${r.seed}/${r.method}`)).size;
  const what = c.sweep ? `Sweep \`${c.name}\`: ${done} of ${cells} cells finished` : `Run \`${c.name}\``;
  const time = d.cellSeconds !== undefined ? `, ${(d.cellSeconds / 60).toFixed(1)} min of cell time` : '';
  return `${what}${time}; model \`${c.model}\`, tasks from \`${c.data.tasks_dir}\` (${c.data.train_per_task} train / ${c.data.test_per_task} test instances per task), rank ${c.adapter.rank} on ${(c.adapter.targets ?? ["the model family's default targets"]).join(', ')}, ${c.train.rounds} rounds × ${c.train.local_steps} local steps of batch ${c.train.batch_size}, seeds ${d.seeds.join(', ')}.`;
}

/** Rebuild summary.md, task-similarity.csv, similarity.csv (when derived from adapters) and plots/. */
export async function writeReport(runDir: string, opts: { notes?: string[] } = {}): Promise<ReportOutcome> {
  const d = loadRunData(runDir);
  if (!existsSync(runFile(runDir, 'similarity')) && d.subspace.length) writeSimilarityCsv(runFile(runDir, 'similarity'), d.subspace);
  writeTaskSimilarityCsv(
    runFile(runDir, 'taskSimilarity'),
    [...d.taskSimilarity].flatMap(([grouping, s]) => s.pairs.map((p) => ({ grouping, client_a: p.a, client_b: p.b, value: p.value }))),
  );
  const plots = await writePlots(d, runFile(runDir, 'plots'));
  const similarity = new Map([...d.taskSimilarity].map(([g, s]) => [g, s.mean]));
  const groupings = d.groupings.map((g) => g.name);
  const before = [
    '## Overview: mean Rouge-L per method (×100)',
    '',
    `Task similarity is measured from the tasks' instructions and example formats (docs/method.md, "Task similarity, measured"), mean over client pairs.`,
    '',
    overviewTable(d.results, groupings, similarity),
  ];
  const summary = summaryMarkdown(d.config.name, d.results, [runNote(d), ...d.stops.map(stopNote), ...(opts.notes ?? []), ...d.notes], {
    before: d.results.length ? before : ['No finished results yet.'],
    groupingNotes: taskSimilarityNotes(d),
    after: [...subspaceSection(d), '', ...coreSection(d), '', ...figuresSection(plots)],
  });
  const path = runFile(runDir, 'summary');
  writeFileAtomic(path, summary);
  return { summary: path, plots };
}

export async function reportCommand(o: { run: string }): Promise<void> {
  // A directory that is not a run is refused by name before anything is created in it; one that
  // is gets locked, so the report never interleaves with a train, sweep or eval writing it.
  const r = existsSync(runFile(o.run, 'resolvedConfig')) ? await withRunLock(o.run, () => writeReport(o.run)) : await writeReport(o.run);
  process.stderr.write(`colora: wrote ${r.summary} and ${r.plots.figures.length} figures in ${runFile(o.run, 'plots')}${r.plots.skipped.length ? ` (${r.plots.skipped.length} skipped, see summary.md)` : ''}\n`);
}
