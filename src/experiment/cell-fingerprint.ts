/**
 * What a cell's numbers depend on, canonical, and its fingerprint (a hash of it). A finished cell
 * records both (cell.json), a round checkpoint the training part; a later run reuses the cell only
 * when the fingerprint matches, and names the keys that differ when it does not.
 *
 * In: the model's content identity (config.json, tokenizer files, weights; not its path), the
 * data settings (not `tasks_dir`'s path) and the content of every task file the cell's clients
 * read, the adapter, train and eval sections, the cell's clients (its grouping, in order), its
 * seed and method. Out, so changing them never invalidates a cell: `name`, `expect`, `backend`
 * (backends agree to float rounding, not bit for bit; each cell records the one it ran on),
 * `train.distribute` (where client updates run), the
 * other groupings, seeds and methods, and `model` / `tasks_dir` as paths.
 */
import { createHash } from 'node:crypto';
import type { ExperimentConfig } from '../config/schema.js';
import type { NiTask } from '../data/ni-task.js';
import type { TaskSource } from '../data/task-source.js';
import type { ModelIdentity } from '../model/identity.js';
import type { Cell } from './run-layout.js';

/** Flat `key.path → value` (values are numbers, strings, booleans or JSON of arrays). */
export type CellInputs = Record<string, string | number | boolean | null>;

const taskHashes = new WeakMap<NiTask, string>();

function taskHash(t: NiTask): string {
  let h = taskHashes.get(t);
  if (!h) {
    const { definition, positiveExamples, negativeExamples, instances } = t;
    h = createHash('sha256').update(JSON.stringify({ definition, positiveExamples, negativeExamples, instances })).digest('hex').slice(0, 16);
    taskHashes.set(t, h);
  }
  return h;
}

function flatten(prefix: string, v: unknown, out: CellInputs): void {
  if (v === undefined) return;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const k of Object.keys(v).sort()) flatten(prefix ? `${prefix}.${k}` : k, (v as Record<string, unknown>)[k], out);
    return;
  }
  out[prefix] = Array.isArray(v) ? JSON.stringify(v) : (v as string | number | boolean | null);
}

/** Everything that changes the numbers of `cell` under `config`. */
export function cellInputs(config: ExperimentConfig, model: ModelIdentity, tasks: TaskSource, cell: Cell): CellInputs {
  const { tasks_dir: _path, ...data } = config.data;
  const need = config.data.train_per_task + config.data.test_per_task;
  const out: CellInputs = {};
  flatten('model', model, out);
  flatten('data', data, out);
  for (const c of cell.grouping.clients) for (const t of c.tasks) out[`tasks.${t}`] = taskHash(tasks.load(t, need));
  flatten('adapter', config.adapter, out);
  if (cell.method === 'colora') flatten('colora', config.colora, out); // CoLoRA's options change only its cells
  const { distribute: _where, ...train } = config.train; // where updates run never changes the numbers
  flatten('train', train, out);
  flatten('eval', config.eval, out);
  out.clients = cell.grouping.clients.map((c) => `${c.name}: ${c.tasks.join(', ')}`).join('; ');
  out.seed = cell.seed;
  out.method = cell.method;
  return out;
}

/** The part training depends on (a round checkpoint's fingerprint): all but `eval.*`. */
export function trainingInputs(inputs: CellInputs): CellInputs {
  return Object.fromEntries(Object.entries(inputs).filter(([k]) => !k.startsWith('eval.')));
}

export function fingerprintOf(inputs: CellInputs): string {
  const canonical = JSON.stringify(Object.keys(inputs).sort().map((k) => [k, inputs[k]]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** `key: old → new` for every key that differs (unset shows as `(unset)`). */
export function diffInputs(old: CellInputs, now: CellInputs): string[] {
  const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
  const show = (v: unknown) => (v === undefined ? '(unset)' : String(v));
  return keys.filter((k) => old[k] !== now[k]).map((k) => `${k}: ${show(old[k])} → ${show(now[k])}`);
}
