/** `colora worker --queue URL [--concurrency N] [--backend NAME] [--max-jobs N] [--idle-exit S] [--artifacts DIR] [--client NAME [--tasks-dir DIR]]` */
import type { BackendName } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import { parseQueueUrl } from './queue-url.js';
import { probeRedis } from './redis-connection.js';
import { startWorker } from './worker.js';

export interface WorkerCommandOptions {
  queue: string;
  concurrency?: number;
  backend?: BackendName;
  maxJobs?: number;
  idleExit?: number;
  artifacts?: string;
  client?: string;
  tasksDir?: string;
}

export async function workerCommand(o: WorkerCommandOptions): Promise<void> {
  const queue = parseQueueUrl(o.queue);
  if (o.tasksDir && !o.client) throw new UsageError('--tasks-dir goes with --client NAME (a pinned client reads its tasks from its own disk)');
  await probeRedis(queue);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`colora worker: serving ${queue.masked}${o.client ? ` for client ${o.client} only` : ''}${o.concurrency && o.concurrency > 1 ? ` (${o.concurrency} at a time)` : ''}`);
  const w = startWorker({ queue, concurrency: o.concurrency, backend: o.backend, maxJobs: o.maxJobs, idleExitSeconds: o.idleExit, artifacts: o.artifacts, tasksDir: o.tasksDir, client: o.client, log });
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log(`colora worker: ${sig}: finishing the job in flight, then exiting (send it again to hand the job back now)`);
      void w.close();
    } else process.exit(130); // the job's lock lapses and another worker takes it up
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const r = await w.done;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  log(`colora worker: stopped after ${r.jobs} job(s), ${r.failed} failed`);
}
