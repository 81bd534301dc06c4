/**
 * The state of a federated run after a finished round, so a killed run resumes at the next
 * round: every adapter state of the strategy in one safetensors file, and the round number and
 * log in a JSON file written after it (the JSON is the commit point).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readJsonFile } from '../util/text-file.js';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type TensorData } from '../model/safetensors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { TENSORS as LAYER_TENSORS, type AdapterState, type LayerFactors, type TensorName } from '../adapters/state.js';

/** A strategy's state: the server's (`global`) and each training unit's own (client side). */
export interface Snapshot {
  global: AdapterState;
  units: Map<string, AdapterState>;
}

export interface RoundCheckpoint<L> {
  round: number;
  fingerprint: string;
  /** What the fingerprint hashes, so a mismatch can name the keys that differ. */
  inputs?: Record<string, unknown>;
  log: L[];
  snapshot: Snapshot;
}

const TENSORS = 'checkpoint.safetensors';
const META = 'checkpoint.json';

function flatten(prefix: string, state: AdapterState, out: Map<string, TensorData>): void {
  for (const [layer, f] of state)
    for (const k of LAYER_TENSORS) {
      const v = f[k];
      if (v) out.set(`${prefix}|${layer}|${k}`, { shape: [v.length], data: v });
    }
}

export function saveRoundCheckpoint<L>(dir: string, c: RoundCheckpoint<L>): void {
  const tensors = new Map<string, TensorData>();
  flatten('global', c.snapshot.global, tensors);
  for (const [unit, s] of c.snapshot.units) flatten(`unit:${unit}`, s, tensors);
  writeSafetensors(join(dir, TENSORS), tensors);
  writeJsonAtomic(join(dir, META), { round: c.round, fingerprint: c.fingerprint, inputs: c.inputs, log: c.log });
}

/** A checkpoint's round, fingerprint and inputs without its tensors, if `dir` holds one. */
export function readCheckpointMeta(dir: string): { round: number; fingerprint: string; inputs?: Record<string, unknown> } | undefined {
  const metaFile = join(dir, META);
  if (!existsSync(metaFile)) return undefined;
  try {
    const { round, fingerprint, inputs } = JSON.parse(readFileSync(metaFile, 'utf8'));
    return { round, fingerprint, inputs };
  } catch (e) {
    throw new UsageError(`${metaFile}: not a round checkpoint (${(e as Error).message}); remove it to train this method from the start`);
  }
}

/**
 * A damaged checkpoint (it is written atomically, so only something outside colora damages it) is
 * refused, naming the file, rather than silently retraining: the user decides to delete it.
 */
function corrupt(file: string, dir: string, what: string): UsageError {
  return new UsageError(`${file}: corrupt round checkpoint (${what}); delete ${dir} to retrain that method from round 0`);
}

function readMeta<L>(metaFile: string, dir: string): { round: number; fingerprint: string; log: L[] } {
  let meta: unknown;
  try {
    meta = readJsonFile(metaFile, 'round checkpoint');
  } catch (err) {
    throw corrupt(metaFile, dir, (err as Error).message.replace(/^[^ ]*: /, ''));
  }
  const m = meta as { round?: unknown; fingerprint?: unknown; log?: unknown } | null;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw corrupt(metaFile, dir, 'expected a JSON object');
  if (!Number.isSafeInteger(m.round) || (m.round as number) < 0) throw corrupt(metaFile, dir, `round: expected an integer of 0 or more, got ${JSON.stringify(m.round)}`);
  if (typeof m.fingerprint !== 'string') throw corrupt(metaFile, dir, 'fingerprint: expected a string');
  if (!Array.isArray(m.log)) throw corrupt(metaFile, dir, 'log: expected a list');
  return m as { round: number; fingerprint: string; log: L[] };
}

/** The checkpoint in `dir`, if one exists for the same run settings (`fingerprint`). */
export function loadRoundCheckpoint<L>(dir: string, fingerprint: string): RoundCheckpoint<L> | undefined {
  const metaFile = join(dir, META);
  if (!existsSync(metaFile) || !existsSync(join(dir, TENSORS))) return undefined;
  const meta = readMeta<L>(metaFile, dir);
  if (meta.fingerprint !== fingerprint) return undefined;
  const snapshot: Snapshot = { global: new Map(), units: new Map() };
  const tensorFile = join(dir, TENSORS);
  for (const [key, t] of readSafetensors(tensorFile)) {
    const [prefix, layer, k, ...rest] = key.split('|');
    if (rest.length > 0 || !layer || !LAYER_TENSORS.includes(k as TensorName) || (prefix !== 'global' && !prefix.startsWith('unit:')))
      throw corrupt(tensorFile, dir, `unexpected tensor '${key}'`);
    let state: AdapterState;
    if (prefix === 'global') state = snapshot.global;
    else {
      const unit = prefix.slice('unit:'.length);
      state = snapshot.units.get(unit) ?? new Map();
      snapshot.units.set(unit, state);
    }
    const f = state.get(layer) ?? ({} as LayerFactors);
    f[k as TensorName] = t.data;
    state.set(layer, f);
  }
  return { round: meta.round, fingerprint: meta.fingerprint, log: meta.log, snapshot };
}
