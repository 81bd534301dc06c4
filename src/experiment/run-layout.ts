/**
 * The run-directory format, in one place. `colora train` writes a run (one grouping `default`,
 * one seed, a directory per method), `colora sweep` a sweep (groupings × seeds × methods, a
 * directory per cell); both hold the same top-level files. Every path, file name and axis of
 * either lives here, and so do the writers of the format's commit points: a finished cell's
 * record (cell.json) and the run-level files rebuilt from the finished cells. The in-process
 * sweep, train, eval, report and the distributed coordinator all go through this module, so a
 * directory written by any of them reads the same.
 *
 *   DIR/config.resolved.yaml  results.csv  log.jsonl  similarity.csv  predictions.jsonl (run)
 *       summary.md  task-similarity.csv  plots/  colora.lock (while a process writes DIR)
 *   DIR/methods/<method>/                       (run)
 *   DIR/cells/<grouping>/seed-<seed>/<method>/  (sweep)
 *       cell.json  predictions.jsonl  adapters/<client>/  checkpoint/
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentConfig, Grouping, MethodName } from '../config/schema.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { toResolvedYaml } from '../config/resolved.js';
import { summaryMarkdown } from '../report/tables.js';
import type { SimilarityRow } from '../report/subspace-similarity.js';
import { writeSimilarityCsv } from '../report/similarity-files.js';
import { jsonl, readJsonl, writeResultsCsv } from './results-files.js';
import type { ClientPrediction, ResultRow, RoundLog } from './records.js';

/** Files and folders at the top of a run or sweep directory. */
export const RUN_FILES = {
  resolvedConfig: 'config.resolved.yaml',
  results: 'results.csv',
  log: 'log.jsonl',
  similarity: 'similarity.csv',
  taskSimilarity: 'task-similarity.csv',
  predictions: 'predictions.jsonl',
  summary: 'summary.md',
  plots: 'plots',
  lock: 'colora.lock',
  methods: 'methods',
  cells: 'cells',
} as const;

/** Files and folders of one cell (a sweep's grouping × seed × method, a run's method). */
export const CELL_FILES = {
  record: 'cell.json',
  predictions: 'predictions.jsonl',
  adapters: 'adapters',
  checkpoint: 'checkpoint',
} as const;

/** `run`: written by `colora train` (methods/); `sweep`: by `colora sweep` (cells/). */
export type RunKind = 'run' | 'sweep';

export interface CellKey {
  grouping: string;
  seed: number;
  method: MethodName;
}

/** A cell of the config, with its grouping's clients. */
export interface Cell {
  grouping: Grouping;
  seed: number;
  method: MethodName;
}

/** What a finished cell wrote: its rows, round log and similarity rows (the commit point). */
export interface CellRecord extends CellKey {
  rows: ResultRow[];
  log: RoundLog[];
  /** Column-subspace similarity of the clients' updates (similarity.csv); absent for `base`. */
  similarity?: SimilarityRow[];
  seconds: number;
  /** The backend the cell ran on (not part of the fingerprint: see docs/reliability.md). */
  backend?: string;
  /** Hash of `inputs`: the cell is reused only when this matches. */
  fingerprint?: string;
  /** Everything that changes the cell's numbers, canonical (experiment/cell-fingerprint.ts). */
  inputs?: Record<string, unknown>;
}

export function runFile(runDir: string, name: keyof typeof RUN_FILES): string {
  return join(runDir, RUN_FILES[name]);
}

/** config.resolved.yaml: the config with every default filled in, as the run used it. */
export function writeResolvedConfig(runDir: string, config: unknown): string {
  const path = runFile(runDir, 'resolvedConfig');
  writeFileAtomic(path, toResolvedYaml(config));
  return path;
}

/**
 * Start over: remove everything colora writes in a run or sweep directory (cells, methods and the
 * run-level files; not the lock, not files colora did not write). Call it holding the lock.
 */
export function clearRunDir(runDir: string): void {
  for (const [key, name] of Object.entries(RUN_FILES)) if (key !== 'lock') rmSync(join(runDir, name), { recursive: true, force: true });
}

/** The kind a config writes: a sweep section makes a sweep. */
export function kindOf(config: ExperimentConfig): RunKind {
  return config.sweep ? 'sweep' : 'run';
}

/** The kind a directory on disk holds, if any (a sweep has cells/, a run methods/). */
export function kindOnDisk(runDir: string): RunKind | undefined {
  if (existsSync(runFile(runDir, 'cells'))) return 'sweep';
  if (existsSync(runFile(runDir, 'methods'))) return 'run';
  return undefined;
}

/**
 * The groupings and seeds of a config; a plain config (or `colora train`, kind `run`) is one
 * grouping `default` of its `clients` with its own seed.
 */
export function runAxes(config: ExperimentConfig, kind?: RunKind): { groupings: Grouping[]; seeds: number[] } {
  if (config.sweep && kind !== 'run') return { groupings: config.sweep.groupings, seeds: config.sweep.seeds };
  return { groupings: [{ name: 'default', clients: config.clients ?? [] }], seeds: [config.seed] };
}

/** Every cell of a config, in the fixed order the run-level files list them. */
export function runCells(config: ExperimentConfig, kind?: RunKind): Cell[] {
  const { groupings, seeds } = runAxes(config, kind);
  return groupings.flatMap((grouping) => seeds.flatMap((seed) => config.methods.map((method) => ({ grouping, seed, method }))));
}

export function cellKey(c: { grouping: string | Grouping; seed: number; method: MethodName }): CellKey {
  return { grouping: typeof c.grouping === 'string' ? c.grouping : c.grouping.name, seed: c.seed, method: c.method };
}

/** Where a cell lives: cells/<grouping>/seed-<seed>/<method> in a sweep, methods/<method> in a run. */
export function cellDir(runDir: string, kind: RunKind, c: { grouping: string | Grouping; seed: number; method: string }): string {
  if (kind === 'run') return join(runDir, RUN_FILES.methods, c.method);
  const g = typeof c.grouping === 'string' ? c.grouping : c.grouping.name;
  return join(runDir, RUN_FILES.cells, g, `seed-${c.seed}`, c.method);
}

/** A cell's client adapters (PEFT directories), one per client: adapters/<client>. */
export function adaptersDir(cellPath: string, client?: string): string {
  return client === undefined ? join(cellPath, CELL_FILES.adapters) : join(cellPath, CELL_FILES.adapters, client);
}

/** A cell's round checkpoint (train/round-checkpoint.ts). */
export function checkpointDir(cellPath: string): string {
  return join(cellPath, CELL_FILES.checkpoint);
}

/** A finished cell's record, or undefined when the cell has not finished. */
export function readCellRecord(cellPath: string): CellRecord | undefined {
  const f = join(cellPath, CELL_FILES.record);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as CellRecord;
  } catch (e) {
    throw new UsageError(`${f}: not a cell record (${(e as Error).message}); remove the cell's directory to run it again`);
  }
}

/**
 * Commit a finished cell into a run or sweep directory: its predictions, then its record (the
 * commit point), both atomically. The cell's adapters are already in place (runMethod wrote them).
 */
export function writeCellRecord(runDir: string, kind: RunKind, record: CellRecord, predictions?: readonly ClientPrediction[]): string {
  const dir = cellDir(runDir, kind, record);
  if (predictions) writeFileAtomic(join(dir, CELL_FILES.predictions), jsonl(predictions));
  writeJsonAtomic(join(dir, CELL_FILES.record), record);
  return dir;
}

/** The finished cells of a config found in a directory, in cell order. */
export function finishedCells(runDir: string, config: ExperimentConfig, kind: RunKind = kindOf(config)): CellRecord[] {
  return runCells(config, kind)
    .map((c) => readCellRecord(cellDir(runDir, kind, c)))
    .filter((r): r is CellRecord => r !== undefined);
}

/** A line of log.jsonl that says where training stopped (a non-finite loss); round and step count from 1. */
export interface StopLog extends CellKey {
  client: string;
  round: number;
  step: number;
  stopped: string;
}

export function isStopLog(l: RoundLog | StopLog): l is StopLog {
  return typeof (l as StopLog).stopped === 'string';
}

/**
 * Rebuild the run-level files from every finished cell, in cell order: results.csv, log.jsonl
 * (plus a line for a stop, if any), similarity.csv, predictions.jsonl (runs) and an interim
 * summary.md (the report writer draws the full one at the end). Any process holding the
 * directory's lock may call this after committing a cell.
 */
export function rebuildRunFiles(
  runDir: string,
  config: ExperimentConfig,
  o: { backend: string; stop?: StopLog; kind?: RunKind },
): { rows: ResultRow[]; log: RoundLog[]; done: CellRecord[] } {
  const kind = o.kind ?? kindOf(config);
  const cells = runCells(config, kind);
  const done = finishedCells(runDir, config, kind);
  const rows = done.flatMap((d) => d.rows);
  const log = done.flatMap((d) => d.log);
  writeResultsCsv(runFile(runDir, 'results'), rows);
  writeFileAtomic(runFile(runDir, 'log'), jsonl(o.stop ? [...log, o.stop] : log));
  writeSimilarityCsv(runFile(runDir, 'similarity'), done.flatMap((d) => d.similarity ?? []));
  if (kind === 'run')
    writeFileAtomic(runFile(runDir, 'predictions'), jsonl(done.flatMap((d) => readJsonl<ClientPrediction>(join(cellDir(runDir, kind, d), CELL_FILES.predictions)))));
  const what = kind === 'sweep' ? `Sweep \`${config.name}\`: ${done.length} of ${cells.length} cells finished` : `Run \`${config.name}\`: ${done.length} of ${cells.length} methods finished`;
  const notes = [`${what}, model \`${config.model}\`, tasks from \`${config.data.tasks_dir}\`, backend \`${o.backend}\`.`];
  if (o.stop) notes.push(stopNote(o.stop));
  writeFileAtomic(runFile(runDir, 'summary'), summaryMarkdown(config.name, rows, notes));
  return { rows, log, done };
}

/** One sentence naming where training stopped, for summary.md. */
export function stopNote(s: StopLog): string {
  const g = s.grouping !== 'default' ? `grouping ${s.grouping}, ` : '';
  return `**Stopped:** ${g}seed ${s.seed}, method ${s.method}, client ${s.client}, round ${s.round}, step ${s.step}: ${s.stopped}.`;
}
