/**
 * What a worker does with one client update of a `train.distribute: clients` cell, and with a
 * pinned client's evaluation. The same checks as a cell job, then the in-process driver's own
 * fitUnit on a strategy built from the same context as the coordinator's (the job names every
 * client and its training-set size), with the unit's kept state either sent along (any worker)
 * or read from this client's disk (a pinned worker, `--client NAME`). A pinned worker reads only
 * its own tasks, keeps its kept state and predictions on its disk, and sends back only the upload
 * (what the strategy's clientUpload shares) and its scores.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { InjectedAdapter } from '../adapters/inject.js';
import { saveAdapter } from '../adapters/peft-io.js';
import type { AdapterState } from '../adapters/state.js';
import type { BackendName, ExperimentConfig, Grouping, MethodName } from '../config/schema.js';
import { openTaskSource } from '../data/task-source.js';
import { cellInputs, type CellInputs } from '../experiment/cell-fingerprint.js';
import { prepareClients, type PreparedClient } from '../experiment/prepare-data.js';
import { jsonl } from '../experiment/results-files.js';
import { evaluateClients, fitUnit, strategyContext, TrainingStopped } from '../experiment/run-method.js';
import { encoderOf, type ModelSession } from '../experiment/session.js';
import { createStrategy } from '../methods/registry.js';
import type { FitInstruction, Strategy, TrainedMethod } from '../methods/strategy.js';
import { modelIdentity } from '../model/identity.js';
import { resolveModelDir } from '../model/checkpoint.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { checkInputs, checkJob, groupingOf } from './cell-job.js';
import { EvalJobSchema, fromWire, PROTOCOL_VERSION, toWire, UpdateJobSchema, type CellRef, type EvalResult, type UpdateResult, type WireState } from './protocol.js';
import type { SessionPool } from './session-pool.js';

export interface UpdateWorkerOptions {
  backend?: BackendName;
  tasksDir?: string;
  /** `--client NAME`: this worker is client NAME's own. */
  client?: string;
}

/** Where a pinned client keeps its state, predictions and adapters: COLORA_CLIENT_STATE or ~/.colora/clients/NAME. */
export function clientStateDir(client: string): string {
  return process.env.COLORA_CLIENT_STATE ?? join(homedir(), '.colora', 'clients', client);
}

function cellStateDir(client: string, sweep: string, c: CellRef): string {
  return join(clientStateDir(client), sweep, c.grouping, `seed-${c.seed}`, c.method);
}

/** The last prepared clients (a cell's updates arrive together, round after round). */
let prepared: { key: string; clients: PreparedClient[] } | undefined;
const verified = new Set<string>();

function clientsFor(session: ModelSession, config: ExperimentConfig, grouping: Grouping, members: readonly string[], seed: number, tasksDir: string): PreparedClient[] {
  const key = `${session.modelDir}|${JSON.stringify(config.data)}|${grouping.name}|${members.join(',')}|${seed}|${tasksDir}`;
  if (prepared?.key !== key)
    prepared = { key, clients: prepareClients(grouping.clients.filter((c) => members.includes(c.name)), config.data, openTaskSource(tasksDir), encoderOf(session), seed) };
  return prepared.clients;
}

/**
 * A worker checks the inputs it can see: a pinned client only its model and its own tasks (the
 * others' task files are not on its disk); any other worker the whole cell.
 */
function checkWorkerInputs(job: { inputs: Record<string, unknown>; fingerprint: string }, config: ExperimentConfig, session: ModelSession, tasksDir: string, grouping: Grouping, method: MethodName, seed: number, own?: string): void {
  const key = `${job.fingerprint}|${own ?? ''}|${session.modelDir}`;
  if (verified.has(key)) return;
  if (own === undefined) checkInputs(job, cellInputs(config, modelIdentity(session.modelDir), openTaskSource(tasksDir), { grouping, seed, method }));
  else {
    const mine = cellInputs(config, modelIdentity(session.modelDir), openTaskSource(tasksDir), { grouping: { ...grouping, clients: grouping.clients.filter((c) => c.name === own) }, seed, method });
    const expected = job.inputs as CellInputs;
    const differ = Object.keys(mine).filter((k) => (k.startsWith('model.') || k.startsWith('tasks.')) && mine[k] !== expected[k]);
    if (differ.length) throw new UnrecoverableError(`client ${own}'s model or task files differ from the coordinator's: ${differ.slice(0, 4).map((k) => `${k}: ${String(expected[k])} → ${String(mine[k])}`).join('; ')}`);
  }
  verified.add(key);
}

interface Prepared {
  config: ExperimentConfig;
  session: ModelSession;
  grouping: Grouping;
  method: TrainedMethod;
  seed: number;
  strategy: Strategy;
  clients: PreparedClient[];
}

async function prepare(job: { config: Record<string, unknown>; cell: CellRef; inputs: Record<string, unknown>; fingerprint: string; clients: { name: string; numExamples: number }[] }, config: ExperimentConfig, unit: string, pool: SessionPool, o: UpdateWorkerOptions): Promise<Prepared> {
  const grouping = groupingOf(config, job.cell);
  if (job.cell.method === 'base') throw new UnrecoverableError('malformed job payload: method base has no client updates');
  const method = job.cell.method as TrainedMethod;
  const session = await pool.acquire(resolveModelDir(config.model), o.backend ?? config.backend);
  try {
    const tasksDir = o.tasksDir ?? config.data.tasks_dir;
    checkWorkerInputs(job, config, session, tasksDir, grouping, method, job.cell.seed, o.client);
    const strategy = createStrategy(method, await strategyContext({ session, config, seed: job.cell.seed }, job.clients));
    const u = strategy.units.find((x) => x.name === unit);
    if (!u) throw new UnrecoverableError(`malformed job payload: no training unit '${unit}' in ${method}`);
    if (o.client !== undefined && (u.members.length !== 1 || u.members[0] !== o.client)) throw new UnrecoverableError(`this worker is client ${o.client}'s; the job is for ${unit}`);
    const clients = clientsFor(session, config, grouping, u.members, job.cell.seed, tasksDir);
    return { config, session, grouping, method, seed: job.cell.seed, strategy, clients };
  } catch (e) {
    pool.release(session);
    throw e;
  }
}

const keptName = (round: number) => `kept.round-${round + 1}.json`;

function readKept(file: string): AdapterState | undefined {
  return existsSync(file) ? fromWire(JSON.parse(readFileSync(file, 'utf8')) as WireState) : undefined;
}

function withKept(strategy: Strategy, unit: string, kept: AdapterState): void {
  const snap = strategy.snapshot();
  snap.units.set(unit, kept);
  strategy.restore(snap);
}

export async function runUpdateJob(data: unknown, pool: SessionPool, o: UpdateWorkerOptions): Promise<UpdateResult> {
  const { job, config } = checkJob(data, UpdateJobSchema);
  if (job.pinned !== (o.client !== undefined)) throw new UnrecoverableError(job.pinned ? `the update of pinned client ${job.unit} belongs on its own worker` : `this worker is client ${o.client}'s; the job is not pinned`);
  const p = await prepare(job, config, job.unit, pool, o);
  // A pinned client keeps its state after every round (kept.round-N.json), and round N starts
  // from round N-1's: a coordinator that resumes at an earlier round gets the same numbers. The
  // first round starts from the strategy's own start (the seed), as in-process.
  const dir = o.client ? cellStateDir(o.client, job.sweep, job.cell) : undefined;
  const keptFile = dir && join(dir, keptName(job.round));
  let kept: AdapterState | undefined;
  if (dir) {
    kept = job.round > 0 ? readKept(join(dir, keptName(job.round - 1))) : undefined;
    if (job.round > 0 && !kept) throw new UnrecoverableError(`client ${o.client} holds no state after round ${job.round} of this cell (${join(dir, keptName(job.round - 1))}); was it trained on another disk?`);
  } else kept = fromWire(job.kept);
  if (kept) withKept(p.strategy, job.unit, kept);
  const examples = p.strategy.units.find((u) => u.name === job.unit)!.members.flatMap((m) => p.clients.find((c) => c.name === m)!.examples);
  const adapter = new InjectedAdapter(p.session.model, p.strategy.adapterConfig, p.strategy.adapterFor(p.strategy.units.find((u) => u.name === job.unit)!.members[0]));
  const worker = `${hostname()}:${process.pid}`;
  try {
    const ins: FitInstruction = { unit: job.unit, download: fromWire(job.download), trainable: job.trainable as FitInstruction['trainable'], steps: job.steps };
    const fit = await fitUnit({ session: p.session, config, seed: p.seed, method: p.method, grouping: p.grouping.name }, adapter, p.strategy, ins, job.round, examples);
    const after = p.strategy.snapshot().units.get(job.unit)!;
    if (keptFile) writeJsonAtomic(keptFile, toWire(after));
    return { protocol: PROTOCOL_VERSION, kind: 'update', sweep: job.sweep, worker, numExamples: fit.result.numExamples, upload: toWire(fit.result.upload), kept: keptFile ? [] : toWire(after), log: { ...fit.log } };
  } catch (e) {
    if (!(e instanceof TrainingStopped)) throw e;
    return { protocol: PROTOCOL_VERSION, kind: 'update', sweep: job.sweep, worker, numExamples: 0, upload: [], kept: [], log: {}, stopped: { message: e.message, stop: { ...e.stop } } };
  } finally {
    adapter.remove();
    pool.release(p.session);
  }
}

/** A pinned client scores itself: the last broadcast plus what it kept, on its own test instances. */
export async function runEvalJob(data: unknown, pool: SessionPool, o: UpdateWorkerOptions): Promise<EvalResult> {
  const { job, config } = checkJob(data, EvalJobSchema);
  if (o.client === undefined || job.client !== o.client) throw new UnrecoverableError(`only client ${job.client}'s own worker evaluates it`);
  const p = await prepare(job, config, job.client, pool, o);
  try {
    const dir = cellStateDir(o.client, job.sweep, job.cell);
    const file = join(dir, keptName(config.train.rounds - 1));
    const kept = readKept(file);
    if (!kept) throw new UnrecoverableError(`client ${o.client} holds no trained state for this cell (${file}); was it trained on another disk?`);
    withKept(p.strategy, job.client, kept);
    const state = p.strategy.clientStart(job.client, fromWire(job.download));
    const { rows, predictions } = await evaluateClients(
      { session: p.session, modelName: config.model, config, seed: p.seed, grouping: p.grouping.name, method: p.method, clients: p.clients, dir, quiet: true },
      { config: p.strategy.adapterConfig, stateFor: () => state },
    );
    // What stays on the client: its adapter and its predictions (prompts, outputs, references).
    saveAdapter(join(dir, 'adapters', o.client), p.strategy.adapterConfig, state, config.model, p.session.family.peft);
    writeFileAtomic(join(dir, 'predictions.jsonl'), jsonl(predictions));
    return { protocol: PROTOCOL_VERSION, kind: 'evaluate', sweep: job.sweep, worker: `${hostname()}:${process.pid}`, rows: rows.map((r) => ({ ...r })) };
  } finally {
    pool.release(p.session);
  }
}
