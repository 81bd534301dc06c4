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
    const dir = cellDir(o.out, 'sweep', cell);
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
      });
    } catch (e) {
      if (e instanceof RunError && /non-finite loss/.test(e.message) && config.expect.some((r) => r.no_nan_loss)) {
        progress.log(`colora: ${e.message}`);
        nanStopped = true;
        break;
      }
      throw e;
    }
    const seconds = (Date.now() - t0) / 1000;
    const a = outcome.adapters;
    const similarity = a ? subspaceSimilarityRows({ grouping: cell.grouping.name, seed: cell.seed, method: cell.method }, a.states, a.config.rank, a.config.alpha / a.config.rank, [1, a.config.rank]) : undefined;
    const record: CellRecord = { grouping: cell.grouping.name, seed: cell.seed, method: cell.method, rows: outcome.rows, log: outcome.log, similarity, seconds };
    writeCellRecord(o.out, 'sweep', record, outcome.predictions);
    rebuildRunFiles(o.out, config, { backend: s.backend });
    const rl = outcome.rows.reduce((a, r) => a + r.rougeL, 0) / Math.max(1, outcome.rows.length);
    progress.tick(`${key}/${cell.method}: Rouge-L ${rl.toFixed(1)} (${seconds.toFixed(0)} s)`);
    o.afterCell?.(cell);
  }
  progress.stop();
  const { rows, log } = rebuildRunFiles(o.out, config, { backend: s.backend });
  try {
    await writeReport(o.out, { notes: [`Backend \`${s.backend}\`.`] });
  } catch (e) {
    // The results are complete; a failed figure must not fail the sweep (`colora report` retries).
    progress.log(`colora: report not written: ${(e as Error).message}`);
  }
  const expectations = checkExpectations(config.expect, rows, log, nanStopped);
  return { rows, log, expectations, nanStopped };
}
