/**
 * The contract's result files: results.csv (one row per grouping, seed, method, client, task;
 * scores ×100), predictions.jsonl, log.jsonl (per round and client), all written atomically.
 */
import { existsSync, readFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { writeFileAtomic } from '../util/atomic.js';
import type { ClientPrediction, ResultRow, RoundLog } from './records.js';

export const RESULT_COLUMNS = ['grouping', 'seed', 'method', 'client', 'task', 'rougeL', 'exact_match', 'n_test'] as const;
/** Extra columns (the contract allows them): the predictions the model's context length cut short. */
export const CONTEXT_COLUMNS = ['n_cut'] as const;
/** Extra columns (the contract allows them): what the method exchanged and trains, empty for `base`. */
export const COMMUNICATION_COLUMNS = ['bytes_up_per_round', 'bytes_down_per_round', 'trainable_params', 'personal_params'] as const;

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

export function resultsCsv(rows: readonly ResultRow[]): string {
  return stringify(
    rows.map((r) => ({ ...r, rougeL: round4(r.rougeL), exact_match: round4(r.exact_match), n_cut: r.n_cut ?? 0 })),
    { header: true, columns: [...RESULT_COLUMNS, ...CONTEXT_COLUMNS, ...COMMUNICATION_COLUMNS] },
  );
}

export function writeResultsCsv(path: string, rows: readonly ResultRow[]): void {
  writeFileAtomic(path, resultsCsv(rows));
}

/** Parse a results.csv written by writeResultsCsv (numbers back to numbers). */
export function readResultsCsv(path: string): ResultRow[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  if (lines.length === 0) return [];
  const header = parseCsvLine(lines[0]);
  return lines.slice(1).map((line) => {
    const cells = parseCsvLine(line);
    const o: Record<string, string> = {};
    header.forEach((h, i) => (o[h] = cells[i] ?? ''));
    return {
      grouping: o.grouping,
      seed: Number(o.seed),
      method: o.method as ResultRow['method'],
      client: o.client,
      task: o.task,
      rougeL: Number(o.rougeL),
      exact_match: Number(o.exact_match),
      n_test: Number(o.n_test),
      ...(o.n_cut !== undefined && o.n_cut !== '' ? { n_cut: Number(o.n_cut) } : {}),
      ...Object.fromEntries(COMMUNICATION_COLUMNS.filter((k) => o[k] !== undefined && o[k] !== '').map((k) => [k, Number(o[k])])),
    };
  });
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function jsonl(items: readonly unknown[]): string {
  return items.map((x) => JSON.stringify(x)).join('\n') + (items.length ? '\n' : '');
}

export function writePredictions(path: string, preds: readonly ClientPrediction[]): void {
  writeFileAtomic(path, jsonl(preds));
}

export function writeLog(path: string, log: readonly RoundLog[]): void {
  writeFileAtomic(path, jsonl(log));
}

export function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}
