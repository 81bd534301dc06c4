import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { REDIS_SKIP, startRedis, type TestRedis } from './helpers/redis-server.js';
import { assertSameSweep, builtSkip, killAll, spawnCli, tempDir, writeTinySweepConfig, type CliProcess } from './helpers/queue-run.js';
import { loadExperimentConfig } from '../src/config/load.js';
import { runSweep } from '../src/experiment/sweep.js';

const skip = REDIS_SKIP || builtSkip;
/** Short job locks, so a killed worker's job is recovered in about two seconds. */
const FAST_LOCKS = { COLORA_QUEUE_LOCK_MS: '1500' };
let redis: TestRedis | undefined;
let work = '';
let modelDir = '';
let reference = '';
const procs: CliProcess[] = [];

before(async () => {
  if (skip) return;
  redis = await startRedis({ appendonly: true });
  modelDir = await makeTinyModelDir();
  work = tempDir('colora-queue-recovery-');
  reference = join(work, 'reference');
  await runSweep(loadExperimentConfig(writeTinySweepConfig(work, modelDir)), { out: reference, quiet: true });
});

after(async () => {
  await killAll(procs);
  await redis?.stop();
  for (const d of [work, modelDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const doneJobs = (log: string) => [...log.matchAll(/\(job (cell\.[^)]*)\) done/g)].map((m) => m[1]);

test('a worker killed with SIGKILL in the middle of a cell: another worker picks the job up (stalled-job recovery) and the results equal the in-process ones', { skip, timeout: 120_000 }, async () => {
  const out = join(work, 'killed-worker');
  const config = writeTinySweepConfig(work, modelDir, 'killed-worker'); // its own sweep id
  const victim = spawnCli(['worker', '--queue', redis!.url], FAST_LOCKS, procs);
  await victim.waitFor(/serving/);
  const coord = spawnCli(['sweep', '--config', config, '--out', out, '--queue', redis!.url, '--quiet'], {}, procs);
  await victim.waitFor(/\(job (cell\.[^)]*)\) started/);
  victim.proc.kill('SIGKILL');
  await victim.exited;
  const lost = /\(job (cell\.[^)]*)\) started(?![^]*\1\) done)/.exec(victim.stderr())?.[1];
  assert.ok(lost, `the victim finished its cell before the kill:\n${victim.stderr()}`);
  // No --idle-exit: the lost job comes back only once its lock has lapsed (longer under load).
  const rescuer = spawnCli(['worker', '--queue', redis!.url], FAST_LOCKS, procs);
  const r = await coord.exited;
  assert.equal(r.code, 0, coord.stderr());
  assertSameSweep(reference, out);
  assert.ok(doneJobs(rescuer.stderr()).includes(lost), `the killed cell was not run again:\n${rescuer.stderr()}`);
  rescuer.proc.kill('SIGTERM');
  assert.equal((await rescuer.exited).code, 0);
});

test('the coordinator killed and started again reattaches to its queued, running and finished jobs without enqueuing any twice', { skip, timeout: 120_000 }, async () => {
  const out = join(work, 'killed-coordinator');
  const config = writeTinySweepConfig(work, modelDir, 'killed-coordinator');
  const args = ['sweep', '--config', config, '--out', out, '--queue', redis!.url];
  const first = spawnCli(args, {}, procs);
  await first.waitFor(/4 of 4 cells newly queued/);
  first.proc.kill('SIGKILL');
  await first.exited;
  assert.equal(redis!.cli(['LLEN', 'colora:cells:wait']).trim(), '4');

  // A worker finishes a cell while no coordinator is there; the new coordinator gathers it.
  const sweepId = /\(sweep ([0-9a-f]{16})\)/.exec(first.stderr())![1];
  const worker = spawnCli(['worker', '--queue', redis!.url], {}, procs);
  await worker.waitFor(new RegExp(`\\(job cell\\.${sweepId}\\.[^)]*\\) done`));
  const second = spawnCli(args, {}, procs);
  const r = await second.exited;
  assert.equal(r.code, 0, second.stderr());
  assert.match(second.stderr(), /reattached to 4 queued or running cells/);
  assert.match(second.stderr(), /0 of 4 cells newly queued/);
  assertSameSweep(reference, out);
  worker.proc.kill('SIGTERM');
  assert.equal((await worker.exited).code, 0);
  const ran = doneJobs(worker.stderr()).filter((id) => id.startsWith(`cell.${sweepId}.`));
  assert.equal(ran.length, 4, worker.stderr());
  assert.equal(new Set(ran).size, 4, `a cell ran twice:\n${worker.stderr()}`);
});

test('Redis restarted mid-sweep (append-only file on): the jobs survive and the sweep finishes identically', { skip, timeout: 120_000 }, async () => {
  const out = join(work, 'redis-restart');
  const config = writeTinySweepConfig(work, modelDir, 'redis-restart');
  const coord = spawnCli(['sweep', '--config', config, '--out', out, '--queue', redis!.url], {}, procs);
  await coord.waitFor(/4 of 4 cells newly queued/);
  await redis!.shutdown();
  await redis!.start();
  const worker = spawnCli(['worker', '--queue', redis!.url], FAST_LOCKS, procs);
  await coord.waitFor(/sweep 1\/4/);
  await redis!.shutdown();
  await new Promise((r) => setTimeout(r, 500));
  await redis!.start();
  const r = await coord.exited;
  assert.equal(r.code, 0, coord.stderr());
  assertSameSweep(reference, out);
  worker.proc.kill('SIGTERM');
  assert.equal((await worker.exited).code, 0, worker.stderr());
});
