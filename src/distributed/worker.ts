/**
 * `colora worker`: a BullMQ worker on the cell queue. It runs jobs until closed (SIGTERM: the job
 * in flight finishes first), until it has taken `maxJobs` jobs, or after `idleExitSeconds` without
 * one. A worker killed outright loses its job's lock; after `lockMs` another worker's stalled-job
 * check puts the job back in the queue and it runs again from the start (or, with --artifacts,
 * from its last finished round).
 */
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { BackendName } from '../config/schema.js';
import { runCellJob } from './cell-job.js';
import { runEvalJob, runUpdateJob } from './update-job.js';
import { CELL_QUEUE, clientQueueName, KEY_PREFIX } from './protocol.js';
import type { QueueUrl } from './queue-url.js';
import { openRedis } from './redis-connection.js';
import { SessionPool } from './session-pool.js';

/** How long a job's lock lasts without renewal (the worker renews it every half of this). */
export function lockMs(): number {
  const v = Number(process.env.COLORA_QUEUE_LOCK_MS);
  return Number.isFinite(v) && v >= 500 ? v : 30_000;
}

export interface WorkerOptions {
  queue: QueueUrl;
  concurrency?: number;
  backend?: BackendName;
  maxJobs?: number;
  idleExitSeconds?: number;
  artifacts?: string;
  tasksDir?: string;
  /** Serve only this pinned client's updates and evaluation (its own queue). */
  client?: string;
  log: (line: string) => void;
}

export interface RunningWorker {
  /** Resolves when the worker has stopped (after close, max-jobs or idle-exit). */
  done: Promise<{ jobs: number; failed: number }>;
  /** Stop taking jobs; the jobs in flight finish first. */
  close(): Promise<void>;
}

export function startWorker(o: WorkerOptions): RunningWorker {
  const pool = new SessionPool((what) => o.log(`colora worker: ${what}`));
  const connection = openRedis(o.queue, o.log);
  const lock = lockMs();
  let started = 0;
  let failed = 0;
  let active = 0;
  let idleSince = Date.now();
  let closing: Promise<void> | undefined;
  const name = `${hostname()}:${process.pid}`;

  const worker: Worker = new Worker(
    o.client !== undefined ? clientQueueName(o.client) : CELL_QUEUE,
    async (job: Job) => {
      started++;
      active++;
      if (o.maxJobs !== undefined && started >= o.maxJobs) void close();
      const what = describe(job);
      const t0 = Date.now();
      o.log(`colora worker: ${what} started`);
      try {
        const kind = (job.data as { kind?: unknown } | null)?.kind;
        const opts = { backend: o.backend, tasksDir: o.tasksDir, client: o.client };
        const r =
          kind === 'update'
            ? await runUpdateJob(job.data, pool, opts)
            : kind === 'evaluate'
              ? await runEvalJob(job.data, pool, opts)
              : o.client !== undefined
                ? (() => {
                    throw new UnrecoverableError(`this worker is client ${o.client}'s: it runs that client's updates and evaluation only`);
                  })()
                : await runCellJob(job.id!, job.data, pool, { backend: o.backend, artifacts: o.artifacts, tasksDir: o.tasksDir });
        o.log(`colora worker: ${what} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        return r;
      } catch (e) {
        failed++;
        o.log(`colora worker: ${what} failed: ${(e as Error).message}`);
        throw e;
      } finally {
        active--;
        idleSince = Date.now();
      }
    },
    {
      connection,
      prefix: KEY_PREFIX,
      name,
      concurrency: o.concurrency ?? 1,
      lockDuration: lock,
      stalledInterval: lock,
      maxStalledCount: 3,
    },
  );
  worker.on('error', (e) => o.log(`colora worker: ${e.message}`));

  let resolveDone!: () => void;
  const stopped = new Promise<void>((r) => (resolveDone = r));
  function close(): Promise<void> {
    closing ??= (async () => {
      await worker.close();
      clearInterval(idleTimer);
      await connection.quit().catch(() => connection.disconnect());
      resolveDone();
    })();
    return closing;
  }
  const idleTimer = setInterval(() => {
    if (o.idleExitSeconds !== undefined && active === 0 && Date.now() - idleSince >= o.idleExitSeconds * 1000) {
      o.log(`colora worker: idle for ${o.idleExitSeconds} s, exiting`);
      void close();
    }
  }, 250);
  return { done: stopped.then(() => ({ jobs: started, failed })), close };
}

function describe(job: Job): string {
  const d = job.data as { kind?: unknown; round?: unknown; unit?: unknown; cell?: { grouping?: unknown; seed?: unknown; method?: unknown } } | undefined;
  const c = d?.cell;
  if (!c) return `job ${job.id}`;
  const where = `${String(c.grouping)}/${String(c.seed)}/${String(c.method)}`;
  if (d.kind === 'update') return `update ${where} round ${Number(d.round) + 1} ${String(d.unit)} (job ${job.id})`;
  if (d.kind === 'evaluate') return `evaluation ${where} (job ${job.id})`;
  return `cell ${where} (job ${job.id})`;
}
