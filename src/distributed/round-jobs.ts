/**
 * The coordinator's side of `train.distribute: clients`: each round's client updates become jobs
 * (ids derived from the sweep, cell, round and unit, so a restarted coordinator finds the ones
 * already done), and the round waits for all of them. The results come back in the order of the
 * strategy's instructions, the units' kept states are put back into the coordinator's strategy,
 * and the in-process driver aggregates exactly as it would have.
 */
import type { Job, Queue } from 'bullmq';
import type { MethodRunContext, UnitFit } from '../experiment/run-method.js';
import type { ResultRow, RoundLog } from '../experiment/records.js';
import { TrainingStopped } from '../experiment/run-method.js';
import type { StopLog } from '../experiment/run-layout.js';
import { RunError } from '../util/errors.js';
import { describeIssues, evalJobId, EvalResultSchema, fromWire, PROTOCOL_VERSION, toWire, updateJobId, UpdateResultSchema, type CellRef, type EvalJob, type UpdateJob } from './protocol.js';

export interface RoundJobsOptions {
  queue: Queue;
  /** Pinned clients (config `pinned: true`): their jobs go to their own workers' queues. */
  pinned: ReadonlySet<string>;
  clientQueue: (client: string) => Queue;
  /** Every client's name and training-set size. */
  clients: { name: string; numExamples: number }[];
  sweep: string;
  config: Record<string, unknown>;
  cell: CellRef;
  inputs: UpdateJob['inputs'];
  fingerprint: string;
  pollMs?: number;
  /** Called once per finished update (progress). */
  onUpdate?: (line: string) => void;
}

export function remoteFitRound(o: RoundJobsOptions): NonNullable<MethodRunContext['fitRound']> {
  return async (round, instructions, strategy) => {
    const kept = strategy.snapshot().units;
    const ids = instructions.map((ins) => updateJobId(o.sweep, o.cell, round, ins.unit));
    const payloads = new Map<string, UpdateJob>();
    const queueOf = (unit: string) => (o.pinned.has(unit) ? o.clientQueue(unit) : o.queue);
    const unitOf = new Map(instructions.map((ins, i) => [ids[i], ins.unit]));
    const enqueue = (id: string) => queueOf(unitOf.get(id)!).add('update', payloads.get(id)!, { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });
    for (const [i, ins] of instructions.entries()) {
      payloads.set(ids[i], {
        protocol: PROTOCOL_VERSION,
        kind: 'update',
        sweep: o.sweep,
        config: o.config,
        cell: o.cell,
        inputs: o.inputs,
        fingerprint: o.fingerprint,
        round,
        unit: ins.unit,
        trainable: [...ins.trainable],
        steps: ins.steps,
        download: toWire(ins.download),
        // A pinned client's kept state (its personal factors) is on its disk, never sent.
        kept: o.pinned.has(ins.unit) ? [] : toWire(kept.get(ins.unit)!),
        pinned: o.pinned.has(ins.unit),
        clients: o.clients,
      });
      const job = await queueOf(ins.unit).getJob(ids[i]);
      if (!job) await enqueue(ids[i]);
      else if ((await job.getState()) === 'failed') await job.retry('failed');
    }
    const done = new Map<string, Job>();
    while (done.size < ids.length) {
      for (const id of ids) {
        if (done.has(id)) continue;
        const q = queueOf(unitOf.get(id)!);
        const job = await q.getJob(id);
        if (!job) {
          await enqueue(id); // Redis lost it (restarted without its append-only file)
          continue;
        }
        const state = await job.getState();
        if (state === 'completed') {
          done.set(id, (await q.getJob(id))!); // fetched again: the first read may predate its return value
          o.onUpdate?.(`round ${round + 1}: ${job.data.unit} updated`);
        } else if (state === 'failed') throw new RunError(`client update ${id} failed on a worker: ${job.failedReason} (run the same command again to retry it)`);
      }
      if (done.size < ids.length) await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
    }
    const fits: UnitFit[] = [];
    for (const [i, ins] of instructions.entries()) {
      const job = done.get(ids[i])!;
      const r = UpdateResultSchema.safeParse(job.returnvalue);
      if (!r.success) throw new RunError(`client update ${ids[i]}: malformed result: ${describeIssues(r.error)}`);
      if (r.data.sweep !== o.sweep) throw new RunError(`client update ${ids[i]}: the result is for sweep ${r.data.sweep}, not ${o.sweep}`);
      if (r.data.stopped) throw new TrainingStopped(r.data.stopped.message, r.data.stopped.stop as unknown as StopLog);
      if (!o.pinned.has(ins.unit)) kept.set(ins.unit, fromWire(r.data.kept));
      fits.push({ result: { unit: ins.unit, numExamples: r.data.numExamples, upload: fromWire(r.data.upload) }, log: r.data.log as unknown as RoundLog });
    }
    const snap = strategy.snapshot();
    for (const ins of instructions) snap.units.set(ins.unit, kept.get(ins.unit)!);
    strategy.restore(snap);
    for (const id of ids) await (await queueOf(unitOf.get(id)!).getJob(id))?.remove();
    return fits;
  };
}

/** A pinned client's evaluation on its own worker: the last broadcast goes, its scores come back. */
export function remoteEvaluate(o: RoundJobsOptions): NonNullable<MethodRunContext['remoteClients']>['evaluate'] {
  return async (client, download) => {
    const id = evalJobId(o.sweep, o.cell, client);
    const q = o.clientQueue(client);
    const data: EvalJob = { protocol: PROTOCOL_VERSION, kind: 'evaluate', sweep: o.sweep, config: o.config, cell: o.cell, inputs: o.inputs, fingerprint: o.fingerprint, client, download: toWire(download), clients: o.clients };
    const existing = await q.getJob(id);
    if (!existing) await q.add('evaluate', data, { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });
    else if ((await existing.getState()) === 'failed') await existing.retry('failed');
    for (;;) {
      const job = await q.getJob(id);
      if (!job) await q.add('evaluate', data, { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });
      else {
        const state = await job.getState();
        if (state === 'failed') throw new RunError(`evaluation of pinned client ${client} failed on its worker: ${job.failedReason} (run the same command again to retry it)`);
        if (state === 'completed') {
          const r = EvalResultSchema.safeParse((await q.getJob(id))!.returnvalue);
          if (!r.success) throw new RunError(`evaluation ${id}: malformed result: ${describeIssues(r.error)}`);
          if (r.data.sweep !== o.sweep) throw new RunError(`evaluation ${id}: the result is for sweep ${r.data.sweep}, not ${o.sweep}`);
          await job.remove();
          return r.data.rows as unknown as ResultRow[];
        }
      }
      await new Promise((res) => setTimeout(res, o.pollMs ?? 100));
    }
  };
}
