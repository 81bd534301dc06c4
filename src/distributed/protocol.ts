/**
 * What travels through the queue, versioned and validated with zod on both ends. A job carries
 * the protocol version, the hash of the resolved config it belongs to (the sweep's identity) and
 * the config itself, so a worker needs nothing but the queue URL; a result carries the same hash
 * back, so a coordinator never gathers another sweep's cell.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import type { ExperimentConfig } from '../config/schema.js';
import { TENSORS, type AdapterState, type LayerFactors, type TensorName } from '../adapters/state.js';
import { METHODS } from '../config/schema.js';

/** Bumped whenever a payload's shape or meaning changes; workers refuse other versions. */
export const PROTOCOL_VERSION = 1;

/** BullMQ key prefix and queue names (BullMQ forbids ':' in queue names). */
export const KEY_PREFIX = 'colora';
export const CELL_QUEUE = 'cells';

/** A job payload larger than this (JSON) fails: configs are kilobytes, client states megabytes. */
export const MAX_JOB_BYTES = 16 * 1024 * 1024;
/**
 * A result (JSON, files base64-encoded) larger than this fails with a pointer to --artifacts:
 * finished results sit in Redis's memory until the coordinator gathers them.
 */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024;

const CellRef = z.strictObject({ grouping: z.string().min(1), seed: z.number().int(), method: z.enum(METHODS) });
export type CellRef = z.infer<typeof CellRef>;

export const CellJobSchema = z.strictObject({
  protocol: z.number().int(),
  kind: z.literal('cell'),
  /** configHash(config): which sweep the job belongs to. */
  sweep: z.string().regex(/^[0-9a-f]{16}$/),
  config: z.record(z.string(), z.unknown()),
  cell: CellRef,
  /**
   * What the coordinator expects the cell's numbers to depend on (experiment/cell-fingerprint.ts):
   * a worker whose model or task files differ refuses the job, naming the keys.
   */
  inputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  fingerprint: z.string(),
  /** `artifacts`: the worker writes the cell under its --artifacts DIR, not into the result. */
  transport: z.enum(['redis', 'artifacts']),
});
export type CellJob = z.infer<typeof CellJobSchema>;

const FileEntry = z.strictObject({ path: z.string().min(1), base64: z.string().optional(), bytes: z.number().int().nonnegative() });
export type FileEntry = z.infer<typeof FileEntry>;

export const CellResultSchema = z.strictObject({
  protocol: z.number().int(),
  kind: z.literal('cell'),
  sweep: z.string(),
  worker: z.string(),
  /** The compute backend the cell ran on (summary.md names it). */
  backend: z.string(),
  /** Every file of the cell directory, relative to it; base64 present unless transport is artifacts. */
  files: z.array(FileEntry),
  /** The fingerprint the worker recorded in cell.json. */
  fingerprint: z.string().optional(),
  /** Training stopped (a non-finite loss): the message and the stop line for log.jsonl; no files. */
  stopped: z.strictObject({ message: z.string(), stop: z.record(z.string(), z.unknown()) }).optional(),
});
export type CellResult = z.infer<typeof CellResultSchema>;

/** Adapter tensors on the wire: [layer, {tensor: base64 of its float32 bytes}] in model order (exact). */
const WireState = z.array(z.tuple([z.string(), z.partialRecord(z.enum(TENSORS as unknown as [TensorName, ...TensorName[]]), z.string())]));
export type WireState = z.infer<typeof WireState>;

export function toWire(state: Map<string, Partial<LayerFactors>>): WireState {
  return [...state].map(([layer, f]): WireState[number] => [layer, Object.fromEntries(Object.entries(f).filter(([, v]) => v).map(([k, v]) => [k, Buffer.from((v as Float32Array).buffer, (v as Float32Array).byteOffset, (v as Float32Array).byteLength).toString('base64')]))]);
}

export function fromWire(w: WireState): AdapterState {
  const out: AdapterState = new Map();
  for (const [layer, f] of w) {
    const layerFactors: Partial<LayerFactors> = {};
    for (const [k, b64] of Object.entries(f)) {
      const buf = Buffer.from(b64 as string, 'base64');
      const arr = new Float32Array(buf.length / 4);
      new Uint8Array(arr.buffer).set(buf);
      layerFactors[k as TensorName] = arr;
    }
    out.set(layer, layerFactors as LayerFactors);
  }
  return out;
}

/**
 * One client update of one round of a `train.distribute: clients` cell: what the server sends
 * (`download`) and what the unit kept from its earlier rounds (`kept`); the worker trains and
 * returns the upload and the new kept state.
 */
export const UpdateJobSchema = z.strictObject({
  protocol: z.number().int(),
  kind: z.literal('update'),
  sweep: z.string().regex(/^[0-9a-f]{16}$/),
  config: z.record(z.string(), z.unknown()),
  cell: CellRef,
  inputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  fingerprint: z.string(),
  round: z.number().int().nonnegative(),
  unit: z.string().min(1),
  trainable: z.array(z.enum(TENSORS as unknown as [TensorName, ...TensorName[]])),
  steps: z.number().int().positive(),
  download: WireState,
  /** The unit's state from earlier rounds; empty for a pinned client, which keeps it on its disk. */
  kept: WireState,
  pinned: z.boolean(),
  /** Every client's name and training-set size (the strategy's units and FedAvg weights). */
  clients: z.array(z.strictObject({ name: z.string(), numExamples: z.number().int().nonnegative() })),
});
export type UpdateJob = z.infer<typeof UpdateJobSchema>;

export const UpdateResultSchema = z.strictObject({
  protocol: z.number().int(),
  kind: z.literal('update'),
  sweep: z.string(),
  worker: z.string(),
  numExamples: z.number().int().nonnegative(),
  upload: WireState,
  kept: WireState,
  log: z.record(z.string(), z.unknown()),
  stopped: z.strictObject({ message: z.string(), stop: z.record(z.string(), z.unknown()) }).optional(),
});
export type UpdateResult = z.infer<typeof UpdateResultSchema>;

/** A pinned client's evaluation: the last broadcast; the client adds what it kept and scores itself. */
export const EvalJobSchema = z.strictObject({
  protocol: z.number().int(),
  kind: z.literal('evaluate'),
  sweep: z.string().regex(/^[0-9a-f]{16}$/),
  config: z.record(z.string(), z.unknown()),
  cell: CellRef,
  inputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  fingerprint: z.string(),
  client: z.string().min(1),
  download: WireState,
  clients: z.array(z.strictObject({ name: z.string(), numExamples: z.number().int().nonnegative() })),
});
export type EvalJob = z.infer<typeof EvalJobSchema>;

export const EvalResultSchema = z.strictObject({
  protocol: z.number().int(),
  kind: z.literal('evaluate'),
  sweep: z.string(),
  worker: z.string(),
  /** results.csv rows (scores only: no predictions, no prompts). */
  rows: z.array(z.record(z.string(), z.unknown())),
});
export type EvalResult = z.infer<typeof EvalResultSchema>;

/** The queue of client NAME's pinned worker (`colora worker --client NAME`). */
export function clientQueueName(client: string): string {
  return `client-${encodeURIComponent(client)}`;
}

export function evalJobId(sweep: string, c: CellRef, client: string): string {
  return `evaluate.${sweep}.${encodeURIComponent(c.grouping)}.${c.seed}.${c.method}.${encodeURIComponent(client)}`;
}

/** Deterministic id of one unit's update in one round of one cell. */
export function updateJobId(sweep: string, c: CellRef, round: number, unit: string): string {
  return `update.${sweep}.${encodeURIComponent(c.grouping)}.${c.seed}.${c.method}.${round}.${encodeURIComponent(unit)}`;
}

/** JSON with object keys sorted, so equal configs hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The resolved config's identity: 16 hex digits of its canonical JSON's SHA-256. */
export function configHash(config: ExperimentConfig | Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

/** Deterministic job id: the same cell of the same sweep is never enqueued twice. */
export function cellJobId(sweep: string, c: CellRef): string {
  return `cell.${sweep}.${encodeURIComponent(c.grouping)}.${c.seed}.${c.method}`;
}

/** A safe relative path inside a cell directory (no absolute paths, no `..`). */
export function isSafeRelativePath(p: string): boolean {
  return !p.startsWith('/') && !p.includes('\\') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** zod's issues as one line: `cell.seed: expected number, received string; ...`. */
export function describeIssues(e: z.ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(payload)'}: ${i.message}`)
    .join('; ');
}

/** Where a job's files go under --artifacts DIR: a run directory of its own, named by the job id. */
export function artifactsRunDir(artifacts: string, jobId: string): string {
  return join(artifacts, jobId);
}
