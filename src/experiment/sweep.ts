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
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { ExperimentConfig, Grouping, MethodName } from '../config/schema.js';
import { writeResolvedConfig } from '../config/resolved.js';
import { openTaskSource } from '../data/task-source.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { RunError, UsageError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { summaryMarkdown } from '../report/tables.js';
import { subspaceSimilarityRows, type SimilarityRow } from '../report/subspace-similarity.js';
import { writeSimilarityCsv } from '../report/similarity-files.js';
import { writeReport } from '../report/report-command.js';
import { encoderOf, openSession, type ModelSession } from './session.js';
import { prepareClients, type PreparedClient } from './prepare-data.js';
import { runMethod, type ResultRow, type RoundLog } from './run-method.js';
import { jsonl, writeLog, writeResultsCsv } from './results-files.js';
import { checkExpectations, type RuleOutcome } from './expect.js';

export interface Cell {
  grouping: Grouping;
  seed: number;
  method: MethodName;
}

export interface CellRecord {
  grouping: string;
  seed: number;
  method: MethodName;
  rows: ResultRow[];
  log: RoundLog[];
  /** Column-subspace similarity of the clients' updates (similarity.csv); absent for `base`. */
  similarity?: SimilarityRow[];
  seconds: number;
}

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

/** The sweep's groupings and seeds; a plain config is one grouping `default` with its own seed. */
export function sweepAxes(config: ExperimentConfig): { groupings: Grouping[]; seeds: number[] } {
  if (config.sweep) return { groupings: config.sweep.groupings, seeds: config.sweep.seeds };
  return { groupings: [{ name: 'default', clients: config.clients! }], seeds: [config.seed] };
}

export function sweepCells(config: ExperimentConfig): Cell[] {
  const { groupings, seeds } = sweepAxes(config);
  return groupings.flatMap((grouping) => seeds.flatMap((seed) => config.methods.map((method) => ({ grouping, seed, method }))));
}

export function cellDir(out: string, c: { grouping: string | Grouping; seed: number; method: string }): string {
  const g = typeof c.grouping === 'string' ? c.grouping : c.grouping.name;
  return join(out, 'cells', g, `seed-${c.seed}`, c.method);
}

export function readCell(out: string, c: Cell): CellRecord | undefined {
  const f = join(cellDir(out, c), 'cell.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as CellRecord) : undefined;
}

/** Rebuild the sweep-level files from every finished cell, in cell order. */
export function writeSweepFiles(out: string, config: ExperimentConfig, cells: readonly Cell[], backend: string): { rows: ResultRow[]; log: RoundLog[] } {
  const done = cells.map((c) => readCell(out, c)).filter((r): r is CellRecord => r !== undefined);
  const rows = done.flatMap((d) => d.rows);
  const log = done.flatMap((d) => d.log);
  writeResultsCsv(join(out, 'results.csv'), rows);
  writeLog(join(out, 'log.jsonl'), log);
  writeSimilarityCsv(join(out, 'similarity.csv'), done.flatMap((d) => d.similarity ?? []));
  const note = `Sweep \`${config.name}\`: ${done.length} of ${cells.length} cells finished, model \`${config.model}\`, tasks from \`${config.data.tasks_dir}\`, backend \`${backend}\`.`;
  writeFileAtomic(join(out, 'summary.md'), summaryMarkdown(config.name, rows, [note]));
  return { rows, log };
}

/**
 * Train and evaluate one cell into `dir`: its adapters, predictions.jsonl and, last (the commit
 * point), cell.json. The in-process sweep and `colora worker` both run cells through this.
 */
export async function runCell(s: ModelSession, config: ExperimentConfig, cell: Cell, clients: PreparedClient[], dir: string): Promise<CellRecord> {
  const t0 = Date.now();
  const outcome = await runMethod({
    session: s,
    modelName: config.model,
    config,
    seed: cell.seed,
    grouping: cell.grouping.name,
    method: cell.method,
    clients,
    dir,
    quiet: true,
  });
  writeFileAtomic(join(dir, 'predictions.jsonl'), jsonl(outcome.predictions));
  const seconds = (Date.now() - t0) / 1000;
  const a = outcome.adapters;
  const similarity = a ? subspaceSimilarityRows({ grouping: cell.grouping.name, seed: cell.seed, method: cell.method }, a.states, a.config.rank, a.config.alpha / a.config.rank, [1, a.config.rank]) : undefined;
  const record: CellRecord = { grouping: cell.grouping.name, seed: cell.seed, method: cell.method, rows: outcome.rows, log: outcome.log, similarity, seconds };
  writeJsonAtomic(join(dir, 'cell.json'), record);
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

export async function runSweep(loaded: LoadedConfig, o: SweepOptions, session?: ModelSession): Promise<SweepOutcome> {
  const { config } = loaded;
  const cells = sweepCells(config);
  const cellsRoot = join(o.out, 'cells');
  if (!o.resume && existsSync(cellsRoot) && readdirSync(cellsRoot).length > 0)
    throw new UsageError(`${o.out} already holds a sweep; pass --resume to finish it, or choose another --out`);
  writeResolvedConfig(o.out, config);
  const s = session ?? (await openSession(loaded.modelDir, config.backend));
  const tasks = openTaskSource(config.data.tasks_dir);

  const todo = cells.filter((c) => !readCell(o.out, c));
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
      record = await runCell(s, config, cell, prepared.clients, cellDir(o.out, cell));
    } catch (e) {
      if (isNanStop(e, config)) {
        progress.log(`colora: ${(e as Error).message}`);
        nanStopped = true;
        break;
      }
      throw e;
    }
    writeSweepFiles(o.out, config, cells, s.backend);
    progress.tick(cellLine(record));
    o.afterCell?.(cell);
  }
  progress.stop();
  return finishSweep(o.out, config, cells, s.backend, nanStopped, (line) => progress.log(line));
}

/** The last step of every sweep (in-process or coordinated): result files, report, expect: rules. */
export async function finishSweep(out: string, config: ExperimentConfig, cells: readonly Cell[], backend: string, nanStopped: boolean, log: (line: string) => void): Promise<SweepOutcome> {
  const written = writeSweepFiles(out, config, cells, backend);
  try {
    await writeReport(out, { notes: [`Backend \`${backend}\`.`] });
  } catch (e) {
    // The results are complete; a failed figure must not fail the sweep (`colora report` retries).
    log(`colora: report not written: ${(e as Error).message}`);
  }
  const expectations = checkExpectations(config.expect, written.rows, written.log, nanStopped);
  return { ...written, expectations, nanStopped };
}
