/**
 * Everything a report reads from a run or sweep directory: the resolved config, results.csv,
 * log.jsonl, similarity.csv (or, where it is absent, the same rows computed from the saved
 * adapters), and the measured task similarity of every grouping (computed from the task data the
 * config names; a note instead when those tasks cannot be loaded).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { YamlSource } from '../config/yaml-source.js';
import { parseExperimentConfig } from '../config/load.js';
import type { ExperimentConfig, Grouping, MethodName } from '../config/schema.js';
import { openTaskSource } from '../data/task-source.js';
import { groupingSimilarity, type GroupingSimilarity } from '../data/task-similarity.js';
import { loadAdapter } from '../adapters/peft-io.js';
import type { AdapterState } from '../adapters/state.js';
import type { ResultRow, RoundLog } from '../experiment/records.js';
import { readJsonl, readResultsCsv } from '../experiment/results-files.js';
import { UsageError } from '../util/errors.js';
import { adaptersDir, cellDir, finishedCells, isStopLog, kindOf, kindOnDisk, runAxes, runFile, type StopLog } from '../experiment/run-layout.js';
import { readSimilarityCsv } from './similarity-files.js';
import { subspaceSimilarityRows, type SimilarityRow } from './subspace-similarity.js';

export interface RunData {
  dir: string;
  config: ExperimentConfig;
  /** The sweep's groupings (a plain run: one grouping `default`) and seeds, in config order. */
  groupings: Grouping[];
  seeds: number[];
  results: ResultRow[];
  log: RoundLog[];
  /** Where training stopped on a non-finite loss (log.jsonl lines with `stopped`), if it did. */
  stops: StopLog[];
  subspace: SimilarityRow[];
  /** Measured task similarity per grouping name (empty when the tasks could not be loaded). */
  taskSimilarity: Map<string, GroupingSimilarity>;
  /** Seconds the finished sweep cells took, summed (undefined for a plain run). */
  cellSeconds?: number;
  /** Things the report could not do, one line each. */
  notes: string[];
}

export { runAxes };

/** similarity.csv's rows recomputed from the adapters on disk (runs from `colora train`, older sweeps). */
export function subspaceFromSavedAdapters(dir: string, config: ExperimentConfig): SimilarityRow[] {
  const { groupings, seeds } = runAxes(config, kindOnDisk(dir));
  const rows: SimilarityRow[] = [];
  for (const g of groupings)
    for (const seed of seeds)
      for (const method of config.methods) {
        const base = adaptersDir(cellDir(dir, kindOnDisk(dir) ?? kindOf(config), { grouping: g.name, seed, method }));
        if (method === 'base' || !existsSync(base)) continue;
        const states = new Map<string, AdapterState>();
        let rank = 0;
        let alpha = 0;
        for (const c of g.clients) {
          if (!existsSync(join(base, c.name, 'adapter_config.json'))) continue;
          const saved = loadAdapter(join(base, c.name));
          ({ rank, alpha } = saved.config);
          states.set(c.name, saved.state);
        }
        if (states.size === g.clients.length) rows.push(...subspaceSimilarityRows({ grouping: g.name, seed, method: method as MethodName }, states, rank, alpha / rank, [1, rank]));
      }
  return rows;
}

function measureTaskSimilarity(config: ExperimentConfig, groupings: readonly Grouping[], notes: string[]): Map<string, GroupingSimilarity> {
  const out = new Map<string, GroupingSimilarity>();
  try {
    const source = openTaskSource(config.data.tasks_dir);
    const { test_per_task: test } = config.data;
    for (const g of groupings) {
      const clients = g.clients.map((c) => ({
        name: c.name,
        // Never the test instances: the positive examples and the training pool after the first test_per_task.
        tasks: c.tasks.map((t) => {
          const task = source.load(t);
          return { ...task, instances: task.instances.slice(test) };
        }),
      }));
      out.set(g.name, groupingSimilarity(clients));
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    notes.push(`Task similarity not measured: the tasks in \`${config.data.tasks_dir}\` could not be loaded (${e.message}).`);
    out.clear();
  }
  return out;
}

function sumCellSeconds(dir: string, config: ExperimentConfig): number | undefined {
  if (kindOnDisk(dir) !== 'sweep') return undefined;
  return finishedCells(dir, config, 'sweep').reduce((s, c) => s + Number(c.seconds ?? 0), 0);
}

export function loadRunData(dir: string): RunData {
  const cfgFile = runFile(dir, 'resolvedConfig');
  if (!existsSync(cfgFile)) throw new UsageError(`${dir}: not a run or sweep directory (no config.resolved.yaml)`);
  const config = parseExperimentConfig(YamlSource.read(cfgFile));
  const { groupings, seeds } = runAxes(config, kindOnDisk(dir));
  const notes: string[] = [];
  const simFile = runFile(dir, 'similarity');
  const subspace = existsSync(simFile) ? readSimilarityCsv(simFile) : subspaceFromSavedAdapters(dir, config);
  const lines = readJsonl<RoundLog | StopLog>(runFile(dir, 'log'));
  return {
    dir,
    config,
    groupings,
    seeds,
    results: readResultsCsv(runFile(dir, 'results')),
    log: lines.filter((l): l is RoundLog => !isStopLog(l)),
    stops: lines.filter(isStopLog),
    subspace,
    taskSimilarity: measureTaskSimilarity(config, groupings, notes),
    cellSeconds: sumCellSeconds(dir, config),
    notes,
  };
}
