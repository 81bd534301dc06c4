/**
 * What a worker does with one client update of a `train.distribute: clients` cell: the same
 * checks as a cell job, then the in-process driver's own fitUnit on a strategy built from the
 * same context as the coordinator's (so the same start, units and weights), whose unit state is
 * the one the coordinator sent. Returns the upload, the unit's new kept state and its log line.
 */
import { hostname } from 'node:os';
import { InjectedAdapter } from '../adapters/inject.js';
import type { BackendName, ExperimentConfig, Grouping, MethodName } from '../config/schema.js';
import { openTaskSource } from '../data/task-source.js';
import { cellInputs } from '../experiment/cell-fingerprint.js';
import { prepareClients, type PreparedClient } from '../experiment/prepare-data.js';
import { fitUnit, strategyContext, TrainingStopped } from '../experiment/run-method.js';
import { encoderOf, type ModelSession } from '../experiment/session.js';
import { createStrategy } from '../methods/registry.js';
import type { FitInstruction, TrainedMethod } from '../methods/strategy.js';
import { modelIdentity } from '../model/identity.js';
import { resolveModelDir } from '../model/checkpoint.js';
import { UnrecoverableError } from 'bullmq';
import { checkInputs, checkJob, groupingOf } from './cell-job.js';
import { fromWire, PROTOCOL_VERSION, toWire, UpdateJobSchema, type UpdateResult } from './protocol.js';
import type { SessionPool } from './session-pool.js';

export interface UpdateWorkerOptions {
  backend?: BackendName;
  tasksDir?: string;
}

/** The last grouping's prepared clients (a cell's updates arrive together, round after round). */
let prepared: { key: string; clients: PreparedClient[] } | undefined;
const verified = new Set<string>();

function clientsFor(session: ModelSession, config: ExperimentConfig, grouping: Grouping, seed: number, tasksDir: string, sweep: string): PreparedClient[] {
  const key = `${sweep}|${session.modelDir}|${grouping.name}|${seed}|${tasksDir}`;
  if (prepared?.key !== key) prepared = { key, clients: prepareClients(grouping.clients, config.data, openTaskSource(tasksDir), encoderOf(session), seed) };
  return prepared.clients;
}

export async function runUpdateJob(data: unknown, pool: SessionPool, o: UpdateWorkerOptions): Promise<UpdateResult> {
  const { job, config } = checkJob(data, UpdateJobSchema);
  const grouping = groupingOf(config, job.cell);
  if (job.cell.method === 'base') throw new UnrecoverableError('malformed job payload: method base has no client updates');
  const session = await pool.acquire(resolveModelDir(config.model), o.backend ?? config.backend);
  try {
    const tasksDir = o.tasksDir ?? config.data.tasks_dir;
    const cell = { grouping, seed: job.cell.seed, method: job.cell.method as MethodName };
    if (!verified.has(job.fingerprint)) {
      checkInputs(job, cellInputs(config, modelIdentity(session.modelDir), openTaskSource(tasksDir), cell));
      verified.add(job.fingerprint);
    }
    const clients = clientsFor(session, config, grouping, cell.seed, tasksDir, job.sweep);
    const strategy = createStrategy(cell.method as TrainedMethod, strategyContext({ session, config, seed: cell.seed, clients }));
    const unit = strategy.units.find((u) => u.name === job.unit);
    if (!unit) throw new UnrecoverableError(`malformed job payload: no training unit '${job.unit}' in ${cell.method}`);
    const snap = strategy.snapshot();
    snap.units.set(job.unit, fromWire(job.kept));
    strategy.restore(snap);
    const examples = unit.members.flatMap((m) => clients.find((c) => c.name === m)!.examples);
    const adapter = new InjectedAdapter(session.model, strategy.adapterConfig, strategy.adapterFor(unit.members[0]));
    const worker = `${hostname()}:${process.pid}`;
    try {
      const ins = { unit: job.unit, download: fromWire(job.download), trainable: job.trainable as FitInstruction['trainable'], steps: job.steps };
      const fit = await fitUnit({ session, config, seed: cell.seed, method: cell.method, grouping: grouping.name }, adapter, strategy, ins, job.round, examples);
      const kept = strategy.snapshot().units.get(job.unit)!;
      return { protocol: PROTOCOL_VERSION, kind: 'update', sweep: job.sweep, worker, numExamples: fit.result.numExamples, upload: toWire(fit.result.upload), kept: toWire(kept), log: { ...fit.log } };
    } catch (e) {
      if (!(e instanceof TrainingStopped)) throw e;
      return { protocol: PROTOCOL_VERSION, kind: 'update', sweep: job.sweep, worker, numExamples: 0, upload: [], kept: [], log: {}, stopped: { message: e.message, stop: { ...e.stop } } };
    } finally {
      adapter.remove();
    }
  } finally {
    pool.release(session);
  }
}
