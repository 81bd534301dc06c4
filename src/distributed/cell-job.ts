/**
 * What a worker does with one cell job: check it (size, protocol version, shape, config hash),
 * run the cell with the in-process sweep's own runCell into a directory of its own, and return
 * the cell's files (or, with --artifacts, leave them in the shared directory and return the list).
 * A check that fails throws UnrecoverableError: the job fails with that reason, is not retried,
 * and the worker goes on serving.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import { ExperimentSchema, type BackendName, type ExperimentConfig, type Grouping, type MethodName } from '../config/schema.js';
import { openTaskSource } from '../data/task-source.js';
import { resolveModelDir } from '../model/checkpoint.js';
import { encoderOf } from '../experiment/session.js';
import { prepareClients } from '../experiment/prepare-data.js';
import { runCell } from '../experiment/sweep.js';
import { cellDir, runAxes } from '../experiment/run-layout.js';
import { cellInputs, diffInputs, fingerprintOf, type CellInputs } from '../experiment/cell-fingerprint.js';
import { TrainingStopped } from '../experiment/run-method.js';
import { modelIdentity } from '../model/identity.js';
import { packCellFiles } from './cell-files.js';
import { artifactsRunDir, CellJobSchema, configHash, describeIssues, MAX_JOB_BYTES, MAX_RESULT_BYTES, PROTOCOL_VERSION, type CellResult } from './protocol.js';
import type { SessionPool } from './session-pool.js';

export interface CellWorkerOptions {
  backend?: BackendName;
  artifacts?: string;
  tasksDir?: string;
}

export const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/**
 * The checks every job passes before it runs: size, protocol version, shape (`schema`), that the
 * config it carries hashes to the sweep it names, and that the config is one. A refusal is an
 * UnrecoverableError: the job fails with that reason and is not retried.
 */
export function checkJob<T extends { sweep: string; config: Record<string, unknown> }>(data: unknown, schema: z.ZodType<T>): { job: T; config: ExperimentConfig } {
  const size = Buffer.byteLength(JSON.stringify(data ?? null));
  if (size > MAX_JOB_BYTES) throw new UnrecoverableError(`payload of ${MiB(size)} exceeds the ${MiB(MAX_JOB_BYTES)} limit for a job`);
  const v = (data as { protocol?: unknown } | null)?.protocol;
  if (typeof v === 'number' && v !== PROTOCOL_VERSION)
    throw new UnrecoverableError(`job speaks protocol version ${v}, this worker speaks ${PROTOCOL_VERSION}: run coordinator and workers of the same colora version`);
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new UnrecoverableError(`malformed job payload: ${describeIssues(parsed.error)}`);
  const job = parsed.data;
  const actual = configHash(job.config);
  if (actual !== job.sweep) throw new UnrecoverableError(`job is for sweep ${job.sweep} but its config hashes to ${actual}: the payload was altered or built by another colora`);
  const config = ExperimentSchema.safeParse(job.config);
  if (!config.success) throw new UnrecoverableError(`malformed job payload: config: ${describeIssues(config.error)}`);
  return { job, config: config.data };
}

export const checkCellJob = (data: unknown) => checkJob(data, CellJobSchema);

/** The cell's grouping, checked against the config the job carries. */
export function groupingOf(config: ExperimentConfig, c: { grouping: string; method: string }): Grouping {
  const grouping = runAxes(config).groupings.find((g) => g.name === c.grouping);
  if (!grouping) throw new UnrecoverableError(`malformed job payload: no grouping '${c.grouping}' in its config`);
  if (!config.methods.includes(c.method as MethodName)) throw new UnrecoverableError(`malformed job payload: method '${c.method}' is not in its config`);
  return grouping;
}

/** Refuse a job whose cell inputs (model, task files, settings) differ from this worker's. */
export function checkInputs(expected: { inputs: Record<string, unknown>; fingerprint: string }, inputs: CellInputs): void {
  if (fingerprintOf(inputs) !== expected.fingerprint)
    throw new UnrecoverableError(`this worker's model or task files differ from the coordinator's: ${diffInputs(expected.inputs as CellInputs, inputs).slice(0, 4).join('; ')}`);
}

export async function runCellJob(id: string, data: unknown, pool: SessionPool, o: CellWorkerOptions): Promise<CellResult> {
  const { job, config } = checkCellJob(data);
  if (job.transport === 'artifacts' && !o.artifacts)
    throw new UnrecoverableError('the coordinator sends results through --artifacts DIR, and this worker was started without --artifacts');
  const grouping = groupingOf(config, job.cell);
  const session = await pool.acquire(resolveModelDir(config.model), o.backend ?? config.backend);
  const inline = job.transport === 'redis';
  // With --artifacts the working directory is shared and named by the job, so a job picked up
  // again after its worker died resumes at the cell's last finished round.
  const dir = inline ? mkdtempSync(join(tmpdir(), 'colora-cell-')) : artifactsRunDir(o.artifacts!, id);
  const worker = `${hostname()}:${process.pid}`;
  try {
    const tasksDir = o.tasksDir ?? config.data.tasks_dir;
    const tasks = openTaskSource(tasksDir);
    const cell = { grouping, seed: job.cell.seed, method: job.cell.method };
    const inputs = cellInputs(config, modelIdentity(session.modelDir), tasks, cell);
    checkInputs(job, inputs);
    const fingerprint = job.fingerprint;
    const clients = prepareClients(grouping.clients, config.data, tasks, encoderOf(session), job.cell.seed);
    try {
      await runCell(session, { ...config, data: { ...config.data, tasks_dir: tasksDir } }, cell, clients, dir, { inputs, fingerprint });
    } catch (e) {
      if (!(e instanceof TrainingStopped)) throw e;
      return { protocol: PROTOCOL_VERSION, kind: 'cell', sweep: job.sweep, worker, backend: session.backend, files: [], stopped: { message: e.message, stop: { ...e.stop } } };
    }
    const result: CellResult = { protocol: PROTOCOL_VERSION, kind: 'cell', sweep: job.sweep, worker, backend: session.backend, files: packCellFiles(cellDir(dir, 'sweep', cell), inline), fingerprint };
    const size = Buffer.byteLength(JSON.stringify(result));
    if (size > MAX_RESULT_BYTES)
      throw new UnrecoverableError(`the cell's files come to ${MiB(size)} encoded, over the ${MiB(MAX_RESULT_BYTES)} that travel through Redis; run coordinator and workers with --artifacts DIR (a shared directory)`);
    return result;
  } finally {
    pool.release(session);
    if (inline) rmSync(dir, { recursive: true, force: true });
  }
}
