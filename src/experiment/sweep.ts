/**
 * `colora sweep`: every (grouping × seed × method) cell of a sweep config, one process, the base
 * model and tokenizer loaded once. Each finished cell is written atomically to
 * cells/<grouping>/seed-<seed>/<method>/cell.json (its rows and round log; the commit point) next
 * to its adapters and predictions; results.csv and log.jsonl are rebuilt from the finished cells
 * in a fixed order after every cell, so a sweep killed at any moment loses at most the cell in
 * flight, and `--resume` gives byte-identical files. similarity.csv (subspace similarity of the
 * clients' updates, computed per cell) is rebuilt the same way; at the end, writeReport draws
 * summary.md and plots/. (The cell in flight itself resumes at its
 * last finished round.) The directory is locked while the sweep runs, and `--resume` reuses a cell
 * only when its fingerprint matches the config (experiment/resume-plan.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import type { LoadedConfig } from '../config/load.js';
import { openTaskSource } from '../data/task-source.js';
import { UsageError } from '../util/errors.js';
import { removeStaleTempFiles } from '../util/atomic.js';
import { modelIdentity } from '../model/identity.js';
import { Progress } from '../util/progress.js';
import { subspaceSimilarityRows } from '../report/subspace-similarity.js';
import { writeReport } from '../report/report-command.js';
import { encoderOf, openSession, type ModelSession } from './session.js';
import { prepareClients, type PreparedClient } from './prepare-data.js';
import { runMethod, TrainingStopped, type ResultRow, type RoundLog } from './run-method.js';
import { rebuildRunFiles, runFile, writeCellRecord, writeResolvedConfig, type Cell, type CellRecord, type StopLog } from './run-layout.js';
import { withRunLock } from './run-lock.js';
import { planCells } from './resume-plan.js';
import { checkExpectations, type RuleOutcome } from './expect.js';

export type { Cell, CellRecord } from './run-layout.js';

export interface SweepOptions {
  out: string;
  resume?: boolean;
  /** Remove what --out holds and start over. */
  overwrite?: boolean;
  quiet?: boolean;
  /** Called after each finished cell (tests use it to interrupt a sweep). */
  afterCell?: (cell: Cell) => void;
}

export interface SweepOutcome {
  rows: ResultRow[];
  log: RoundLog[];
  expectations: RuleOutcome[];
  nanStopped: boolean;
}

export async function runSweep(loaded: LoadedConfig, o: SweepOptions, session?: ModelSession): Promise<SweepOutcome> {
  return withRunLock(o.out, () => sweepLocked(loaded, o, session));
}

async function sweepLocked(loaded: LoadedConfig, o: SweepOptions, session?: ModelSession): Promise<SweepOutcome> {
  const { config } = loaded;
  const cellsRoot = runFile(o.out, 'cells');
  if (!o.resume && !o.overwrite && existsSync(cellsRoot) && readdirSync(cellsRoot).length > 0)
    throw new UsageError(`${o.out} already holds a sweep; pass --resume to finish it, --overwrite to start over, or choose another --out`);
  const tasks = openTaskSource(config.data.tasks_dir);
  const plans = planCells(o.out, 'sweep', config, modelIdentity(loaded.modelDir), tasks, { overwrite: o.overwrite });
  const progress = new Progress('sweep', plans.length, { quiet: o.quiet });
  const stale = removeStaleTempFiles(o.out);
  if (stale.length) progress.log(`colora: removed ${stale.length} temporary file${stale.length > 1 ? 's' : ''} left by an interrupted run`);
  writeResolvedConfig(o.out, config);
  const s = session ?? (await openSession(loaded.modelDir, config.backend));

  const todo = plans.filter((p) => !p.reuse);
  if (todo.length < plans.length) progress.tick(`${plans.length - todo.length} cells already finished`, plans.length - todo.length);
  let prepared: { key: string; clients: PreparedClient[] } | undefined;
  let stop: StopLog | undefined;
  for (const { cell, dir, inputs, fingerprint } of todo) {
    const key = `${cell.grouping.name}/${cell.seed}`;
    if (prepared?.key !== key)
      prepared = { key, clients: prepareClients(cell.grouping.clients, config.data, tasks, encoderOf(s), cell.seed) };
    const t0 = Date.now();
    let outcome;
    try {
      outcome = await runMethod({
        session: s,
        modelName: config.model,
        config,
        seed: cell.seed,
        grouping: cell.grouping.name,
        method: cell.method,
        clients: prepared.clients,
        dir,
        quiet: true,
        inputs,
      });
    } catch (e) {
      if (!(e instanceof TrainingStopped)) throw e;
      progress.log(`colora: ${e.message}`);
      stop = e.stop;
      if (config.expect.some((r) => r.no_nan_loss)) break;
      await finish(o.out, loaded, s.backend, stop, progress);
      throw e;
    }
    const seconds = (Date.now() - t0) / 1000;
    const a = outcome.adapters;
    const similarity = a ? subspaceSimilarityRows({ grouping: cell.grouping.name, seed: cell.seed, method: cell.method }, a.states, a.config.rank, a.config.alpha / a.config.rank, [1, a.config.rank]) : undefined;
    const record: CellRecord = { grouping: cell.grouping.name, seed: cell.seed, method: cell.method, rows: outcome.rows, log: outcome.log, similarity, seconds, backend: s.backend, fingerprint, inputs };
    writeCellRecord(o.out, 'sweep', record, outcome.predictions);
    rebuildRunFiles(o.out, config, { backend: s.backend, kind: 'sweep' });
    const rl = outcome.rows.reduce((a, r) => a + r.rougeL, 0) / Math.max(1, outcome.rows.length);
    progress.tick(`${key}/${cell.method}: Rouge-L ${rl.toFixed(1)} (${seconds.toFixed(0)} s)`);
    o.afterCell?.(cell);
  }
  progress.stop();
  const { rows, log } = await finish(o.out, loaded, s.backend, stop, progress);
  const expectations = checkExpectations(config.expect, rows, log, stop !== undefined);
  return { rows, log, expectations, nanStopped: stop !== undefined };
}

/** The sweep-level files from the finished cells (and a stop, if any), then the report. */
async function finish(out: string, loaded: LoadedConfig, backend: string, stop: StopLog | undefined, progress: Progress): Promise<{ rows: ResultRow[]; log: RoundLog[] }> {
  const { rows, log } = rebuildRunFiles(out, loaded.config, { backend, stop, kind: 'sweep' });
  try {
    await writeReport(out, { notes: [`Backend \`${backend}\`.`] });
  } catch (e) {
    // The results are complete; a failed figure must not fail the sweep (`colora report` retries).
    progress.log(`colora: report not written: ${(e as Error).message}`);
  }
  return { rows, log };
}
