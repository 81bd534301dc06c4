/**
 * `colora sweep --queue URL`: the coordinator. It enqueues every cell that --out does not hold yet
 * (job ids are derived from the config hash and the cell, so a restarted coordinator reattaches
 * to the jobs already queued or running instead of enqueuing them again), gathers each finished
 * cell into --out exactly as the in-process sweep writes it (cell-files.ts, then the same
 * writeSweepFiles), and ends as the in-process sweep does (finishSweep: report, expect: rules).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { Queue, type Job } from 'bullmq';
import type { LoadedConfig } from '../config/load.js';
import { toResolvedYaml } from '../config/resolved.js';
import { finishSweep, type SweepOutcome } from '../experiment/sweep.js';
import { cellDir, readCellRecord, rebuildRunFiles, runCells, runFile, writeResolvedConfig, type Cell } from '../experiment/run-layout.js';
import { RunError, UsageError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { unpackCellFiles } from './cell-files.js';
import { artifactsRunDir, CELL_QUEUE, CellResultSchema, cellJobId, configHash, describeIssues, KEY_PREFIX, PROTOCOL_VERSION, type CellJob } from './protocol.js';
import type { QueueUrl } from './queue-url.js';
import { openRedis } from './redis-connection.js';

export interface CoordinatorOptions {
  out: string;
  queue: QueueUrl;
  /** Shared directory the workers leave cell files in (instead of sending them through Redis). */
  artifacts?: string;
  quiet?: boolean;
  /** How often to look at the queue (ms). */
  pollMs?: number;
}

const ref = (c: Cell) => ({ grouping: c.grouping.name, seed: c.seed, method: c.method });

function formatEta(s: number): string {
  if (!Number.isFinite(s)) return '?';
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${Math.round(s)} s`;
}

export async function runCoordinatedSweep(loaded: LoadedConfig, o: CoordinatorOptions): Promise<SweepOutcome> {
  const { config } = loaded;
  const sweep = configHash(config);
  const resolved = runFile(o.out, 'resolvedConfig');
  if (existsSync(resolved) && readFileSync(resolved, 'utf8') !== toResolvedYaml(config))
    throw new UsageError(`${o.out} holds another sweep (its config.resolved.yaml differs from this config); choose another --out`);
  writeResolvedConfig(o.out, config);
  const cells = runCells(config);
  const pending = new Map<string, Cell>();
  for (const c of cells) if (!readCellRecord(cellDir(o.out, 'sweep', c))) pending.set(cellJobId(sweep, ref(c)), c);

  const progress = new Progress('sweep', cells.length, { quiet: o.quiet });
  const log = (line: string) => progress.log(line);
  const connection = openRedis(o.queue, log);
  const queue = new Queue(CELL_QUEUE, { connection, prefix: KEY_PREFIX });
  queue.on('error', () => {}); // reported once per 5 s by openRedis's handler
  const plainConfig = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  const payload = (c: Cell): CellJob => ({ protocol: PROTOCOL_VERSION, kind: 'cell', sweep, config: plainConfig, cell: ref(c), transport: o.artifacts ? 'artifacts' : 'redis' });
  const enqueue = (id: string, c: Cell) => queue.add('cell', payload(c), { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });

  let nanStopped = false;
  let backend: string | undefined;
  try {
    // Reattach: a job already there (waiting, running, finished) is kept; a failed one is retried.
    let reattached = 0;
    let added = 0;
    for (const [id, c] of pending) {
      const job = await queue.getJob(id);
      if (!job) {
        await enqueue(id, c);
        added++;
      } else {
        reattached++;
        if ((await job.getState()) === 'failed') await job.retry('failed');
      }
    }
    const finishedBefore = cells.length - pending.size;
    if (finishedBefore > 0) progress.tick(`${finishedBefore} cells already finished`, finishedBefore);
    if (reattached > 0) log(`colora: reattached to ${reattached} queued or running cells of sweep ${sweep} on ${o.queue.masked}`);
    log(`colora: ${added} of ${cells.length} cells newly queued on ${o.queue.masked} (sweep ${sweep}); start workers with: colora worker --queue ${o.queue.masked}`);

    const t0 = Date.now();
    let gathered = 0;
    const seen = new Set<string>();
    let running = 0;
    let lastFullCheck = Date.now();
    let lastWorkers = 0;
    let lastNote = Date.now();
    const status = () => {
      const rate = gathered / ((Date.now() - t0) / 1000);
      return `${running} running, ${seen.size} workers seen, ETA ${formatEta(pending.size / rate)}`;
    };
    const gather = async (job: Job, c: Cell) => {
      const r = CellResultSchema.safeParse(job.returnvalue);
      if (!r.success) throw new RunError(`cell ${job.id}: malformed result from the worker: ${describeIssues(r.error)}`);
      if (r.data.sweep !== sweep) throw new RunError(`cell ${job.id}: the result is for sweep ${r.data.sweep}, not ${sweep}`);
      const jobDir = o.artifacts ? artifactsRunDir(o.artifacts, job.id!) : undefined;
      unpackCellFiles(r.data.files, cellDir(o.out, 'sweep', c), jobDir && cellDir(jobDir, 'sweep', c));
      backend ??= r.data.backend;
      pending.delete(job.id!);
      gathered++;
      rebuildRunFiles(o.out, config, { backend });
      await job.remove();
      if (jobDir) rmSync(jobDir, { recursive: true, force: true });
      progress.tick(`${c.grouping.name}/${c.seed}/${c.method} on ${r.data.worker}; ${status()}`);
    };

    while (pending.size > 0) {
      const ours = (jobs: Job[]) => jobs.filter((j) => j && pending.has(j.id!));
      for (const job of ours(await queue.getJobs(['completed']))) await gather(job, pending.get(job.id!)!);
      for (const job of ours(await queue.getJobs(['failed']))) {
        const c = pending.get(job.id!)!;
        const reason = job.failedReason ?? 'no reason given';
        if (/non-finite loss/.test(reason) && config.expect.some((r) => r.no_nan_loss)) {
          log(`colora: ${reason}`);
          nanStopped = true;
          break;
        }
        throw new RunError(`cell ${c.grouping.name}/${c.seed}/${c.method} failed on a worker: ${reason} (run the same command again to retry it)`);
      }
      if (nanStopped) break;
      running = ours(await queue.getJobs(['active'])).length;
      if (Date.now() - lastWorkers > 2000) {
        lastWorkers = Date.now();
        for (const w of await queue.getWorkers()) if (w.name) seen.add(w.name);
      }
      // A job that vanished (Redis restarted without its data) is enqueued again.
      if (Date.now() - lastFullCheck > 5000) {
        lastFullCheck = Date.now();
        for (const [id, c] of pending) if (!(await queue.getJob(id))) await enqueue(id, c);
      }
      if (!o.quiet && Date.now() - lastNote > 30_000) {
        lastNote = Date.now();
        log(`colora: ${cells.length - pending.size}/${cells.length} cells done, ${status()}`);
      }
      await new Promise((r) => setTimeout(r, o.pollMs ?? 200));
    }
  } finally {
    progress.stop();
    await queue.close();
    await connection.quit().catch(() => connection.disconnect());
  }
  return finishSweep(o.out, config, backend ?? config.backend, nanStopped, log);
}
