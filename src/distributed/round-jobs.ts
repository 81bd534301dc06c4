/**
 * The coordinator's side of `train.distribute: clients`: each round's client updates become jobs
 * (ids derived from the sweep, cell, round and unit, so a restarted coordinator finds the ones
 * already done), and the round waits for all of them. The results come back in the order of the
 * strategy's instructions, the units' kept states are put back into the coordinator's strategy,
 * and the in-process driver aggregates exactly as it would have.
 */
import type { Job, Queue } from 'bullmq';
import type { MethodRunContext, RoundLog, UnitFit } from '../experiment/run-method.js';
import { TrainingStopped } from '../experiment/run-method.js';
import type { StopLog } from '../experiment/run-layout.js';
import { RunError } from '../util/errors.js';
import { describeIssues, fromWire, PROTOCOL_VERSION, toWire, updateJobId, UpdateResultSchema, type CellRef, type UpdateJob } from './protocol.js';

export interface RoundJobsOptions {
  queue: Queue;
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
    const enqueue = (id: string) => o.queue.add('update', payloads.get(id)!, { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });
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
        kept: toWire(kept.get(ins.unit)!),
      });
      const job = await o.queue.getJob(ids[i]);
      if (!job) await enqueue(ids[i]);
      else if ((await job.getState()) === 'failed') await job.retry('failed');
    }
    const done = new Map<string, Job>();
    while (done.size < ids.length) {
      for (const id of ids) {
        if (done.has(id)) continue;
        const job = await o.queue.getJob(id);
        if (!job) {
          await enqueue(id); // Redis lost it (restarted without its append-only file)
          continue;
        }
        const state = await job.getState();
        if (state === 'completed') {
          done.set(id, (await o.queue.getJob(id))!); // fetched again: the first read may predate its return value
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
      kept.set(ins.unit, fromWire(r.data.kept));
      fits.push({ result: { unit: ins.unit, numExamples: r.data.numExamples, upload: fromWire(r.data.upload) }, log: r.data.log as unknown as RoundLog });
    }
    const snap = strategy.snapshot();
    for (const ins of instructions) snap.units.set(ins.unit, kept.get(ins.unit)!);
    strategy.restore(snap);
    for (const id of ids) await (await o.queue.getJob(id))?.remove();
    return fits;
  };
}
