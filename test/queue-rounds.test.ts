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
const FAST_LOCKS = { COLORA_QUEUE_LOCK_MS: '1500' };
let redis: TestRedis | undefined;
let work = '';
let modelDir = '';
let config = '';
let reference = '';
const procs: CliProcess[] = [];

before(async () => {
  if (skip) return;
  redis = await startRedis();
  modelDir = await makeTinyModelDir();
  work = tempDir('colora-queue-rounds-');
  config = writeTinySweepConfig(work, modelDir, 'rounds', { distribute: 'clients', seeds: [0] });
  reference = join(work, 'reference');
  await runSweep(loadExperimentConfig(config), { out: reference, quiet: true });
});

after(async () => {
  await killAll(procs);
  await redis?.stop();
  for (const d of [work, modelDir]) if (d) rmSync(d, { recursive: true, force: true });
});

test('train.distribute: clients: client updates run on two workers, one killed with SIGKILL mid-update, and adapters and results equal the in-process ones', { skip, timeout: 120_000 }, async () => {
  const out = join(work, 'distributed');
  const victim = spawnCli(['worker', '--queue', redis!.url], FAST_LOCKS, procs);
  const other = spawnCli(['worker', '--queue', redis!.url], FAST_LOCKS, procs);
  await Promise.all([victim.waitFor(/serving/), other.waitFor(/serving/)]);
  const coord = spawnCli(['sweep', '--config', config, '--out', out, '--queue', redis!.url], {}, procs);
  await victim.waitFor(/update g\/0\/\w+ round 1 \w+ \(job [^)]*\) started/);
  victim.proc.kill('SIGKILL');
  await victim.exited;
  const lost = /\(job (update\.[^)]*)\) started(?![^]*\1\) done)/.exec(victim.stderr())?.[1];
  assert.ok(lost, `the victim finished its update before the kill:\n${victim.stderr()}`);
  const r = await coord.exited;
  assert.equal(r.code, 0, coord.stderr());
  assert.match(coord.stderr(), /2 of 2 cells to run here, their client updates on the workers/);
  assertSameSweep(reference, out);
  // 2 methods × 2 rounds × 2 clients = 8 updates; the victim's lost one ran again on the other worker.
  const done = [...`${victim.stderr()}${other.stderr()}`.matchAll(/\(job (update\.[^)]*)\) done/g)].map((m) => m[1]);
  assert.equal(new Set(done).size, 8, `${victim.stderr()}\n${other.stderr()}`);
  assert.ok(other.stderr().includes(`(job ${lost}) done`), `the killed update was not run again:\n${other.stderr()}`);
  other.proc.kill('SIGTERM');
  assert.equal((await other.exited).code, 0);
});
