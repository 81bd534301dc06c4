/**
 * similarity.csv (column-subspace similarity of client updates, one row per grouping, seed,
 * method, layer, client pair and k) and task-similarity.csv (measured task similarity, one row per
 * grouping and client pair), written atomically. Names in these files are config names (letters,
 * digits, `_ . -`) and layer names, so no field ever needs quoting.
 */
import { existsSync, readFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { writeFileAtomic } from '../util/atomic.js';
import type { MethodName } from '../config/schema.js';
import { SIMILARITY_COLUMNS, type SimilarityRow } from './subspace-similarity.js';

export interface TaskSimilarityRow {
  grouping: string;
  client_a: string;
  client_b: string;
  value: number;
}

export const TASK_SIMILARITY_COLUMNS = ['grouping', 'client_a', 'client_b', 'value'] as const;

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export function similarityCsv(rows: readonly SimilarityRow[]): string {
  return stringify(rows.map((r) => ({ ...r, value: round6(r.value) })), { header: true, columns: [...SIMILARITY_COLUMNS] });
}

export function taskSimilarityCsv(rows: readonly TaskSimilarityRow[]): string {
  return stringify(rows.map((r) => ({ ...r, value: round6(r.value) })), { header: true, columns: [...TASK_SIMILARITY_COLUMNS] });
}

export function writeSimilarityCsv(path: string, rows: readonly SimilarityRow[]): void {
  writeFileAtomic(path, similarityCsv(rows));
}

export function writeTaskSimilarityCsv(path: string, rows: readonly TaskSimilarityRow[]): void {
  writeFileAtomic(path, taskSimilarityCsv(rows));
}

function records(path: string): Record<string, string>[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  if (lines.length === 0) return [];
  const header = lines[0].split(',');
  return lines.slice(1).map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}

/** Rows of a similarity.csv ([] when the file is absent). */
export function readSimilarityCsv(path: string): SimilarityRow[] {
  return records(path).map((o) => ({
    grouping: o.grouping,
    seed: Number(o.seed),
    method: o.method as MethodName,
    layer: o.layer,
    client_a: o.client_a,
    client_b: o.client_b,
    k: Number(o.k),
    value: Number(o.value),
  }));
}
