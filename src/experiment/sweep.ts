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
import type { ExperimentConfig } from '../config/schema.js';
import { openTaskSource } from '../data/task-source.js';
import { UsageError } from '../util/errors.js';
import { removeStaleTempFiles } from '../util/atomic.js';
import { modelIdentity } from '../model/identity.js';
import { Progress } from '../util/progress.js';
import { subspaceSimilarityRows } from '../report/subspace-similarity.js';
import { writeReport } from '../report/report-command.js';
import { encoderOf, openSession, type ModelSession } from './session.js';
import { prepareClients, type PreparedClient } from './prepare-data.js';
import { runMethod, TrainingStopped, type MethodRunContext } from './run-method.js';
import type { ResultRow, RoundLog } from './records.js';
import { cellDir, rebuildRunFiles, runFile, writeCellRecord, writeResolvedConfig, type Cell, type CellRecord, type StopLog } from './run-layout.js';
import { withRunLock } from './run-lock.js';
import { planCells } from './resume-plan.js';
import { cellInputs, fingerprintOf, type CellInputs } from './cell-fingerprint.js';
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
  for (const plan of todo) {
    const { cell } = plan;
    const key = `${cell.grouping.name}/${cell.seed}`;
    if (prepared?.key !== key)
      prepared = { key, clients: prepareClients(cell.grouping.clients, config.data, tasks, encoderOf(s), cell.seed) };
    let record: CellRecord;
    try {
      record = await runCell(s, config, cell, prepared.clients, o.out, plan);
    } catch (e) {
      if (!(e instanceof TrainingStopped)) throw e;
      progress.log(`colora: ${e.message}`);
      stop = e.stop;
      if (isNanStop(e, config)) break;
      progress.stop();
      await finishSweep(o.out, config, s.backend, true, (l) => progress.log(l), stop);
      throw e;
    }
    rebuildRunFiles(o.out, config, { backend: s.backend, kind: 'sweep' });
    progress.tick(cellLine(record));
    o.afterCell?.(cell);
  }
  progress.stop();
  return finishSweep(o.out, config, s.backend, stop !== undefined, (l) => progress.log(l), stop);
}

/**
 * Train and evaluate one cell of a sweep whose directory is `runDir`: adapters, predictions and,
 * last, its record (the commit point) with the cell's fingerprint, all where run-layout puts them.
 * The in-process sweep runs cells through this into --out; a queue worker into a directory of its
 * own; a `train.distribute: clients` coordinator passes `remote` to run the client updates (and pinned
 * clients' evaluation) on its workers. `id` is the cell's inputs and fingerprint (resume-plan.ts); without it they are computed
 * from the session's model and the config's tasks.
 */
export async function runCell(
  s: ModelSession,
  config: ExperimentConfig,
  cell: Cell,
  clients: PreparedClient[],
  runDir: string,
  id?: { inputs: CellInputs; fingerprint: string },
  remote?: Pick<MethodRunContext, 'fitRound' | 'remoteClients'>,
): Promise<CellRecord> {
  const inputs = id?.inputs ?? cellInputs(config, modelIdentity(s.modelDir), openTaskSource(config.data.tasks_dir), cell);
  const t0 = Date.now();
  const outcome = await runMethod({
    session: s,
    modelName: config.model,
    config,
    seed: cell.seed,
    grouping: cell.grouping.name,
    method: cell.method,
    clients,
    dir: cellDir(runDir, 'sweep', cell),
    quiet: true,
    inputs,
    ...remote,
  });
  const seconds = (Date.now() - t0) / 1000;
  const a = outcome.adapters;
  const similarity = a ? subspaceSimilarityRows({ grouping: cell.grouping.name, seed: cell.seed, method: cell.method }, a.states, a.config.rank, a.config.alpha / a.config.rank, [1, a.config.rank]) : undefined;
  const record: CellRecord = { grouping: cell.grouping.name, seed: cell.seed, method: cell.method, rows: outcome.rows, log: outcome.log, similarity, seconds, backend: s.backend, fingerprint: id?.fingerprint ?? fingerprintOf(inputs), inputs };
  writeCellRecord(runDir, 'sweep', record, outcome.predictions);
  return record;
}

/** A non-finite loss under a `no_nan_loss` rule stops the sweep (exit 3 via the rule), not exit 1. */
export function isNanStop(e: unknown, config: ExperimentConfig): e is TrainingStopped {
  return e instanceof TrainingStopped && config.expect.some((r) => r.no_nan_loss);
}

/** The progress line for a finished cell. */
export function cellLine(r: CellRecord): string {
  const rl = r.rows.reduce((a, x) => a + x.rougeL, 0) / Math.max(1, r.rows.length);
  return `${r.grouping}/${r.seed}/${r.method}: Rouge-L ${rl.toFixed(1)} (${r.seconds.toFixed(0)} s)`;
}

/**
 * The last step of every sweep (in-process or coordinated): the run-level files from the finished
 * cells (plus the line saying where training stopped, if it did), the report, the expect: rules.
 */
export async function finishSweep(out: string, config: ExperimentConfig, backend: string, nanStopped: boolean, log: (line: string) => void, stop?: StopLog): Promise<SweepOutcome> {
  const { rows, log: rounds } = rebuildRunFiles(out, config, { backend, stop, kind: 'sweep' });
  try {
    await writeReport(out, { notes: [`Backend \`${backend}\`.`] });
  } catch (e) {
    // The results are complete; a failed figure must not fail the sweep (`colora report` retries).
    log(`colora: report not written: ${(e as Error).message}`);
  }
  const expectations = checkExpectations(config.expect, rows, rounds, nanStopped);
  return { rows, log: rounds, expectations, nanStopped };
}
