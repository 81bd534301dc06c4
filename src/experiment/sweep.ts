/**
 * `colora sweep`: every (grouping × seed × method) cell of a sweep config, one process, the base
 * model and tokenizer loaded once. Each finished cell is written atomically to
 * cells/<grouping>/seed-<seed>/<method>/cell.json (its rows and round log; the commit point) next
 * to its adapters and predictions; results.csv and log.jsonl are rebuilt from the finished cells
 * in a fixed order after every cell, so a sweep killed at any moment loses at most the cell in
 * flight, and `--resume` gives byte-identical files. similarity.csv (subspace similarity of the
 * clients' updates, computed per cell) is rebuilt the same way; at the end, writeReport draws
 * summary.md and plots/. (The cell in flight itself resumes at its
 * last finished round.)
 */
import { existsSync, readdirSync } from 'node:fs';
import type { LoadedConfig } from '../config/load.js';
import type { ExperimentConfig } from '../config/schema.js';
import { openTaskSource } from '../data/task-source.js';
import { RunError, UsageError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { subspaceSimilarityRows } from '../report/subspace-similarity.js';
import { writeReport } from '../report/report-command.js';
import { encoderOf, openSession, type ModelSession } from './session.js';
import { prepareClients, type PreparedClient } from './prepare-data.js';
import { runMethod, type ResultRow, type RoundLog } from './run-method.js';
import { cellDir, readCellRecord, writeResolvedConfig, rebuildRunFiles, runCells, runFile, writeCellRecord, type Cell, type CellRecord } from './run-layout.js';
import { checkExpectations, type RuleOutcome } from './expect.js';

export type { Cell, CellRecord } from './run-layout.js';

export interface SweepOptions {
  out: string;
  resume?: boolean;
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
  const { config } = loaded;
  const cells = runCells(config);
  const cellsRoot = runFile(o.out, 'cells');
  if (!o.resume && existsSync(cellsRoot) && readdirSync(cellsRoot).length > 0)
    throw new UsageError(`${o.out} already holds a sweep; pass --resume to finish it, or choose another --out`);
  writeResolvedConfig(o.out, config);
  const s = session ?? (await openSession(loaded.modelDir, config.backend));
  const tasks = openTaskSource(config.data.tasks_dir);

  const todo = cells.filter((c) => !readCellRecord(cellDir(o.out, 'sweep', c)));
  const progress = new Progress('sweep', cells.length, { quiet: o.quiet });
  if (todo.length < cells.length) progress.tick(`${cells.length - todo.length} cells already finished`, cells.length - todo.length);
  let prepared: { key: string; clients: PreparedClient[] } | undefined;
  let nanStopped = false;
  for (const cell of todo) {
    const key = `${cell.grouping.name}/${cell.seed}`;
    if (prepared?.key !== key)
      prepared = { key, clients: prepareClients(cell.grouping.clients, config.data, tasks, encoderOf(s), cell.seed) };
    let record: CellRecord;
    try {
      record = await runCell(s, config, cell, prepared.clients, o.out);
    } catch (e) {
      if (isNanStop(e, config)) {
        progress.log(`colora: ${(e as Error).message}`);
        nanStopped = true;
        break;
      }
      throw e;
    }
    rebuildRunFiles(o.out, config, { backend: s.backend });
    progress.tick(cellLine(record));
    o.afterCell?.(cell);
  }
  progress.stop();
  return finishSweep(o.out, config, s.backend, nanStopped, (line) => progress.log(line));
}

/**
 * Train and evaluate one cell of a sweep whose directory is `runDir`: adapters, predictions and,
 * last, its record (the commit point), all where run-layout puts them. The in-process sweep runs
 * cells through this into --out; `colora worker` into a directory of its own, whose cell files
 * the coordinator then copies into --out.
 */
export async function runCell(s: ModelSession, config: ExperimentConfig, cell: Cell, clients: PreparedClient[], runDir: string): Promise<CellRecord> {
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
  });
  const seconds = (Date.now() - t0) / 1000;
  const a = outcome.adapters;
  const similarity = a ? subspaceSimilarityRows({ grouping: cell.grouping.name, seed: cell.seed, method: cell.method }, a.states, a.config.rank, a.config.alpha / a.config.rank, [1, a.config.rank]) : undefined;
  const record: CellRecord = { grouping: cell.grouping.name, seed: cell.seed, method: cell.method, rows: outcome.rows, log: outcome.log, similarity, seconds };
  writeCellRecord(runDir, 'sweep', record, outcome.predictions);
  return record;
}

/** A non-finite loss under a `no_nan_loss` rule stops the sweep (exit 3 via the rule), not exit 1. */
export function isNanStop(e: unknown, config: ExperimentConfig): boolean {
  return e instanceof RunError && /non-finite loss/.test(e.message) && config.expect.some((r) => r.no_nan_loss);
}

/** The progress line for a finished cell. */
export function cellLine(r: CellRecord): string {
  const rl = r.rows.reduce((a, x) => a + x.rougeL, 0) / Math.max(1, r.rows.length);
  return `${r.grouping}/${r.seed}/${r.method}: Rouge-L ${rl.toFixed(1)} (${r.seconds.toFixed(0)} s)`;
}

/** The last step of every sweep (in-process or coordinated): run-level files, report, expect: rules. */
export async function finishSweep(out: string, config: ExperimentConfig, backend: string, nanStopped: boolean, log: (line: string) => void): Promise<SweepOutcome> {
  const { rows, log: rounds } = rebuildRunFiles(out, config, { backend });
  try {
    await writeReport(out, { notes: [`Backend \`${backend}\`.`] });
  } catch (e) {
    // The results are complete; a failed figure must not fail the sweep (`colora report` retries).
    log(`colora: report not written: ${(e as Error).message}`);
  }
  const expectations = checkExpectations(config.expect, rows, rounds, nanStopped);
  return { rows, log: rounds, expectations, nanStopped };
}
