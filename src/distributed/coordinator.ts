/**
 * `colora sweep --queue URL`: the coordinator. It holds --out's lock, plans the cells as the
 * in-process `sweep --resume` does (a finished cell is reused only when its fingerprint matches;
 * a changed setting is refused, naming the keys), and enqueues the others. Job ids are derived
 * from the config hash and the cell, so a restarted coordinator reattaches to the jobs already
 * queued, running or finished instead of enqueuing them again. Each finished cell is written into
 * --out file by file, cell.json last (cell-files.ts), then the run-level files are rebuilt with
 * the in-process sweep's own functions (rebuildRunFiles, finishSweep).
 */
import { rmSync } from 'node:fs';
import { Queue, type Job } from 'bullmq';
import type { LoadedConfig } from '../config/load.js';
import { openTaskSource } from '../data/task-source.js';
import { modelIdentity } from '../model/identity.js';
import { cellLine, finishSweep, runCell, type SweepOutcome } from '../experiment/sweep.js';
import { encoderOf, openSession } from '../experiment/session.js';
import { prepareClients } from '../experiment/prepare-data.js';
import { clientInfos, TrainingStopped } from '../experiment/run-method.js';
import { remoteEvaluate, remoteFitRound } from './round-jobs.js';
import { cellDir, rebuildRunFiles, writeResolvedConfig, type Cell, type StopLog } from '../experiment/run-layout.js';
import { planCells, type CellPlan } from '../experiment/resume-plan.js';
import { currentCommand, withRunLock } from '../experiment/run-lock.js';
import { removeStaleTempFiles } from '../util/atomic.js';
import { RunError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { unpackCellFiles } from './cell-files.js';
import { artifactsRunDir, CELL_QUEUE, clientQueueName, CellResultSchema, cellJobId, configHash, describeIssues, KEY_PREFIX, PROTOCOL_VERSION, type CellJob } from './protocol.js';
import { maskUrl, type QueueUrl } from './queue-url.js';
import { openRedis } from './redis-connection.js';

export interface CoordinatorOptions {
  out: string;
  queue: QueueUrl;
  /** Shared directory the workers leave cell files in (instead of sending them through Redis). */
  artifacts?: string;
  quiet?: boolean;
  overwrite?: boolean;
  /** How often to look at the queue (ms). */
  pollMs?: number;
}

const ref = (c: Cell) => ({ grouping: c.grouping.name, seed: c.seed, method: c.method });

function formatEta(s: number): string {
  if (!Number.isFinite(s)) return '?';
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${Math.round(s)} s`;
}

export async function runCoordinatedSweep(loaded: LoadedConfig, o: CoordinatorOptions): Promise<SweepOutcome> {
  // The lock names the command that holds it: with the password masked.
  const command = currentCommand().split(' ').map(maskUrl).join(' ');
  return withRunLock(o.out, () => coordinate(loaded, o), { command });
}

async function coordinate(loaded: LoadedConfig, o: CoordinatorOptions): Promise<SweepOutcome> {
  const { config } = loaded;
  const sweep = configHash(config);
  const plans = planCells(o.out, 'sweep', config, modelIdentity(loaded.modelDir), openTaskSource(config.data.tasks_dir), { overwrite: o.overwrite });
  const progress = new Progress('sweep', plans.length, { quiet: o.quiet });
  const log = (line: string) => progress.log(line);
  const stale = removeStaleTempFiles(o.out);
  if (stale.length) log(`colora: removed ${stale.length} temporary file${stale.length > 1 ? 's' : ''} left by an interrupted run`);
  writeResolvedConfig(o.out, config);
  const pending = new Map<string, CellPlan>();
  for (const p of plans) if (!p.reuse) pending.set(cellJobId(sweep, ref(p.cell)), p);

  const connection = openRedis(o.queue, log);
  const queue = new Queue(CELL_QUEUE, { connection, prefix: KEY_PREFIX });
  queue.on('error', () => {}); // reported once per 5 s by openRedis's handler
  const plainConfig = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  const payload = (p: CellPlan): CellJob => ({
    protocol: PROTOCOL_VERSION,
    kind: 'cell',
    sweep,
    config: plainConfig,
    cell: ref(p.cell),
    inputs: p.inputs,
    fingerprint: p.fingerprint,
    transport: o.artifacts ? 'artifacts' : 'redis',
  });
  const enqueue = (id: string, p: CellPlan) => queue.add('cell', payload(p), { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });

  const closers: (() => Promise<void>)[] = [];
  let stop: StopLog | undefined;
  let stopError: RunError | undefined;
  let backend: string | undefined;
  try {
    if (config.train.distribute === 'clients') {
      // Each cell runs here, round by round; its client updates run on the workers.
      const finishedBefore = plans.length - pending.size;
      if (finishedBefore > 0) progress.tick(`${finishedBefore} cells already finished`, finishedBefore);
      log(`colora: ${pending.size} of ${plans.length} cells to run here, their client updates on the workers of ${o.queue.masked} (sweep ${sweep}); start workers with: colora worker --queue ${o.queue.masked}`);
      const session = await openSession(loaded.modelDir, config.backend);
      const clientQueues = new Map<string, Queue>();
      const clientQueue = (name: string) => {
        let q = clientQueues.get(name);
        if (!q) {
          q = new Queue(clientQueueName(name), { connection, prefix: KEY_PREFIX });
          q.on('error', () => {});
          clientQueues.set(name, q);
        }
        return q;
      };
      closers.push(async () => {
        for (const q of clientQueues.values()) await q.close();
      });
      backend = session.backend;
      const tasks = openTaskSource(config.data.tasks_dir);
      for (const p of pending.values()) {
        const clients = prepareClients(p.cell.grouping.clients, config.data, tasks, encoderOf(session), p.cell.seed);
        const pinned = new Set(p.cell.grouping.clients.filter((c) => c.pinned).map((c) => c.name));
        const jobs = { queue, pinned, clientQueue, clients: clientInfos(clients), sweep, config: plainConfig, cell: ref(p.cell), inputs: p.inputs, fingerprint: p.fingerprint, pollMs: o.pollMs };
        try {
          const record = await runCell(session, config, p.cell, clients, o.out, p, { fitRound: remoteFitRound(jobs), remoteClients: { pinned, evaluate: remoteEvaluate(jobs) } });
          rebuildRunFiles(o.out, config, { backend, kind: 'sweep' });
          progress.tick(cellLine(record));
        } catch (e) {
          if (!(e instanceof TrainingStopped)) throw e;
          stop = e.stop;
          stopError = e;
          log(`colora: ${e.message}`);
          break;
        }
      }
    } else {
      // Reattach: a job already there (waiting, running, finished) is kept; a failed one is retried.
      let reattached = 0;
      let added = 0;
      for (const [id, p] of pending) {
        const job = await queue.getJob(id);
        if (!job) {
          await enqueue(id, p);
          added++;
        } else {
          reattached++;
          if ((await job.getState()) === 'failed') await job.retry('failed');
        }
      }
      const finishedBefore = plans.length - pending.size;
      if (finishedBefore > 0) progress.tick(`${finishedBefore} cells already finished`, finishedBefore);
      if (reattached > 0) log(`colora: reattached to ${reattached} queued or running cells of sweep ${sweep} on ${o.queue.masked}`);
      log(`colora: ${added} of ${plans.length} cells newly queued on ${o.queue.masked} (sweep ${sweep}); start workers with: colora worker --queue ${o.queue.masked}`);

      const t0 = Date.now();
      let gathered = 0;
      // Queue overhead per job: pickup (enqueued, or the worker's previous job finished → started)
      // and result → written into --out.
      const pickup: number[] = [];
      const written: number[] = [];
      const gathering: number[] = [];
      const lastFinished = new Map<string, number>();
      const seen = new Set<string>();
      let running = 0;
      let lastFullCheck = Date.now();
      let lastWorkers = 0;
      let lastNote = Date.now();
      const status = () => {
        const rate = gathered / ((Date.now() - t0) / 1000);
        return `${running} running, ${seen.size} workers seen, ETA ${formatEta(pending.size / rate)}`;
      };
      /**
       * Write a finished cell into --out; false when training stopped there (a non-finite loss).
       * The run-level files are rebuilt after each batch of gathered cells (at most 16), not after
       * every cell: rebuilding reads every finished cell, and 200 tiny cells on two workers finish
       * faster than one rebuild per cell (median result-to-written 1.9 s) keeps up.
       */
      const gather = async (job: Job, p: CellPlan): Promise<boolean> => {
        const g0 = Date.now();
        const r = CellResultSchema.safeParse(job.returnvalue);
        if (!r.success) throw new RunError(`cell ${job.id}: malformed result from the worker: ${describeIssues(r.error)}`);
        if (r.data.sweep !== sweep) throw new RunError(`cell ${job.id}: the result is for sweep ${r.data.sweep}, not ${sweep}`);
        if (r.data.stopped) {
          stop = r.data.stopped.stop as unknown as StopLog;
          stopError = new RunError(r.data.stopped.message);
          log(`colora: ${r.data.stopped.message}`);
          return false;
        }
        if (r.data.fingerprint !== p.fingerprint) throw new RunError(`cell ${job.id}: the worker recorded fingerprint ${r.data.fingerprint}, expected ${p.fingerprint}`);
        const jobDir = o.artifacts ? artifactsRunDir(o.artifacts, job.id!) : undefined;
        unpackCellFiles(r.data.files, p.dir, jobDir && cellDir(jobDir, 'sweep', p.cell));
        backend ??= r.data.backend;
        pending.delete(job.id!);
        gathered++;
        await job.remove();
        if (jobDir) rmSync(jobDir, { recursive: true, force: true });
        if (job.processedOn && job.finishedOn) {
          const w = r.data.worker;
          pickup.push(job.processedOn - Math.max(job.timestamp, lastFinished.get(w) ?? 0));
          lastFinished.set(w, job.finishedOn);
          written.push(Date.now() - job.finishedOn);
          gathering.push(Date.now() - g0);
        }
        progress.tick(`${p.cell.grouping.name}/${p.cell.seed}/${p.cell.method} on ${r.data.worker}; ${status()}`);
        return true;
      };

      poll: while (pending.size > 0) {
        const ours = (jobs: Job[]) => jobs.filter((j) => j && pending.has(j.id!));
        const completed = ours(await queue.getJobs(['completed'])).sort((a, b) => (a.finishedOn ?? 0) - (b.finishedOn ?? 0));
        let batch = 0;
        for (const job of completed) {
          const ok = await gather(job, pending.get(job.id!)!);
          if (ok) batch++;
          if (ok && (batch % 16 === 0 || job === completed[completed.length - 1])) rebuildRunFiles(o.out, config, { backend: backend!, kind: 'sweep' });
          if (!ok) break poll;
        }
        for (const job of ours(await queue.getJobs(['failed']))) {
          const c = pending.get(job.id!)!.cell;
          throw new RunError(`cell ${c.grouping.name}/${c.seed}/${c.method} failed on a worker: ${job.failedReason ?? 'no reason given'} (run the same command again to retry it)`);
        }
        running = ours(await queue.getJobs(['active'])).length;
        if (Date.now() - lastWorkers > 2000) {
          lastWorkers = Date.now();
          for (const w of await queue.getWorkers()) seen.add(String(w.rawname ?? w.addr ?? w.name)); // name is the queue's; rawname the worker's
        }
        // A job that vanished (Redis restarted without its data) is enqueued again.
        if (Date.now() - lastFullCheck > 5000) {
          lastFullCheck = Date.now();
          for (const [id, p] of pending) if (!(await queue.getJob(id))) await enqueue(id, p);
        }
        if (!o.quiet && Date.now() - lastNote > 30_000) {
          lastNote = Date.now();
          log(`colora: ${plans.length - pending.size}/${plans.length} cells done, ${status()}`);
        }
        await new Promise((r) => setTimeout(r, o.pollMs ?? 200));
      }
      if (gathered > 0 && !o.quiet) {
        const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        log(`colora: queue overhead per cell (median of ${gathered}): pickup ${med(pickup)} ms, result to written ${med(written)} ms (of which writing the cell ${med(gathering)} ms); ${seen.size} workers seen`);
      }
    }
  } finally {
    progress.stop();
    for (const c of closers) await c();
    await queue.close();
    await connection.quit().catch(() => connection.disconnect());
  }
  const outcome = await finishSweep(o.out, config, backend ?? config.backend, stop !== undefined, log, stop);
  // As in-process: a stop under a no_nan_loss rule ends through the rule (exit 3), otherwise exit 1.
  if (stopError && !config.expect.some((r) => r.no_nan_loss)) throw stopError;
  return outcome;
}

