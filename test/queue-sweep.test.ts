import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { REDIS_SKIP, freePort, startRedis, type TestRedis } from './helpers/redis-server.js';
import { allText, assertSameSweep, builtSkip, killAll, spawnCli, tempDir, writeTinySweepConfig, type CliProcess } from './helpers/queue-run.js';
import { loadExperimentConfig } from '../src/config/load.js';
import { runSweep } from '../src/experiment/sweep.js';
import { maskUrl, parseQueueUrl } from '../src/distributed/queue-url.js';
import { openRedis } from '../src/distributed/redis-connection.js';
import { CELL_QUEUE, KEY_PREFIX, MAX_JOB_BYTES, PROTOCOL_VERSION, configHash } from '../src/distributed/protocol.js';
import { UsageError } from '../src/util/errors.js';

const skip = REDIS_SKIP || builtSkip;
const PASSWORD = 'pw-Sekr1t-q';
let redis: TestRedis | undefined;
let work = '';
let modelDir = '';
let config = '';
let reference = '';
const procs: CliProcess[] = [];

before(async () => {
  if (skip) return;
  redis = await startRedis({ password: PASSWORD });
  modelDir = await makeTinyModelDir();
  work = tempDir('colora-queue-');
  config = writeTinySweepConfig(work, modelDir);
  reference = join(work, 'reference');
  await runSweep(loadExperimentConfig(config), { out: reference, quiet: true });
});

after(async () => {
  await killAll(procs);
  await redis?.stop();
  for (const d of [work, modelDir]) if (d) rmSync(d, { recursive: true, force: true });
});

test('queue URLs: the password is masked, other schemes are usage errors', () => {
  assert.equal(maskUrl('redis://user:p%40ss@host:6379/2'), 'redis://user:****@host:6379/2');
  assert.equal(maskUrl('rediss://:secret@h:1'), 'rediss://:****@h:1');
  assert.equal(maskUrl('redis://h:1'), 'redis://h:1');
  const q = parseQueueUrl('rediss://u:secret@example.org:6380/3');
  assert.deepEqual([q.tls, q.host, q.port, q.db, q.masked], [true, 'example.org', 6380, 3, 'rediss://u:****@example.org:6380/3']);
  assert.throws(() => parseQueueUrl('http://u:secret@h:1'), (e: Error) => e instanceof UsageError && /scheme 'http'/.test(e.message) && !e.message.includes('secret'));
  assert.throws(() => parseQueueUrl('redis://h:1/x'), UsageError);
});

test('two workers give the in-process results byte for byte; bad jobs fail with a reason and the workers keep serving; the password is never printed', { skip, timeout: 120_000 }, async () => {
  const url = redis!.url;
  const w1 = spawnCli(['worker', '--queue', url, '--backend', 'cpu'], {}, procs);
  const w2 = spawnCli(['worker', '--queue', url, '--backend', 'cpu'], {}, procs);
  await Promise.all([w1.waitFor(/serving/), w2.waitFor(/serving/)]);

  // Jobs no coordinator of this version would send: each fails with its reason.
  const conn = openRedis(parseQueueUrl(url), () => {});
  const queue = new Queue(CELL_QUEUE, { connection: conn, prefix: KEY_PREFIX });
  const plain = JSON.parse(JSON.stringify(loadExperimentConfig(config).config)) as Record<string, unknown>;
  const good = { protocol: PROTOCOL_VERSION, kind: 'cell', sweep: configHash(plain), config: plain, cell: { grouping: 'g', seed: 0, method: 'local' }, inputs: {}, fingerprint: '0', transport: 'redis' };
  const bad: [string, unknown, RegExp][] = [
    ['old-version', { ...good, protocol: PROTOCOL_VERSION + 1 }, /protocol version 2, this worker speaks 1/],
    ['other-sweep', { ...good, sweep: '0123456789abcdef' }, /job is for sweep 0123456789abcdef but its config hashes to/],
    ['malformed', { protocol: PROTOCOL_VERSION, kind: 'cell', cell: 'nope' }, /malformed job payload: .*sweep/],
    ['oversized', { ...good, padding: 'x'.repeat(MAX_JOB_BYTES) }, /payload of 16\.\d MiB exceeds the 16\.0 MiB limit/],
  ];
  try {
    for (const [id, data] of bad) await queue.add('cell', data, { jobId: `test.${id}` });
    for (const [id, , reason] of bad) {
      let state = '';
      for (let i = 0; i < 200 && state !== 'failed'; i++) {
        state = await (await queue.getJob(`test.${id}`))!.getState();
        if (state !== 'failed') await new Promise((r) => setTimeout(r, 100));
      }
      const job = (await queue.getJob(`test.${id}`))!;
      assert.equal(state, 'failed', `${id} did not fail`);
      assert.match(job.failedReason, reason, id);
      assert.equal(job.attemptsMade, 1, `${id} was retried`);
    }
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
    conn.disconnect();
  }

  const out = join(work, 'two-workers');
  const coord = spawnCli(['sweep', '--config', config, '--out', out, '--queue', url], {}, procs);
  const r = await coord.exited;
  assert.equal(r.code, 0, coord.stderr());
  assertSameSweep(reference, out);
  assert.match(coord.stderr(), /4 of 4 cells newly queued/);
  assert.match(coord.stderr(), /sweep 4\/4 .* on .*workers seen/);

  for (const w of [w1, w2]) w.proc.kill('SIGTERM');
  const codes = await Promise.all([w1.exited, w2.exited]);
  assert.deepEqual(codes.map((c) => c.code), [0, 0]);
  const logs = [w1.stderr(), w2.stderr()];
  const ran = logs.map((l) => (l.match(/cell g\/\d\/\w+ \(job cell\.[^)]*\) done/g) ?? []).length);
  assert.equal(ran[0] + ran[1], 4, logs.join('\n'));
  // The base model is loaded once per worker, however many cells it runs.
  for (const [i, l] of logs.entries()) assert.equal((l.match(/loaded .* on backend/g) ?? []).length, ran[i] > 0 ? 1 : 0, l);

  for (const text of [coord.stderr(), ...logs, allText(out)]) assert.ok(!text.includes(PASSWORD), 'the password leaked');
  assert.ok(coord.stderr().includes(':****@127.0.0.1'), 'the coordinator names the masked URL');
});

test('no Redis at the URL: exit 2 within a few seconds, one line naming the masked URL', { skip, timeout: 120_000 }, async () => {
  const port = await freePort();
  const url = `redis://user:hunter2@127.0.0.1:${port}`;
  for (const args of [['sweep', '--config', config, '--out', join(work, 'none'), '--queue', url], ['worker', '--queue', url]]) {
    const t0 = Date.now();
    const p = spawnCli(args, {}, procs);
    const r = await p.exited;
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(r.code, 2, p.stderr());
    assert.ok(seconds < 10, `took ${seconds} s`);
    assert.match(p.stderr(), new RegExp(`^colora: --queue: no Redis at redis://user:\\*\\*\\*\\*@127\\.0\\.0\\.1:${port} \\(.*\\)\\n$`));
    assert.ok(!p.stderr().includes('hunter2'));
  }
});

test('--artifacts: cell files travel through a shared directory, not Redis; a worker with --concurrency 2 --max-jobs 4 runs the sweep and exits', { skip, timeout: 120_000 }, async () => {
  const out = join(work, 'artifacts-out');
  const shared = join(work, 'shared-artifacts');
  const w = spawnCli(['worker', '--queue', redis!.url, '--artifacts', shared, '--concurrency', '2', '--max-jobs', '4'], {}, procs);
  await w.waitFor(/serving .*\(2 at a time\)/);
  const coord = spawnCli(['sweep', '--config', config, '--out', out, '--queue', redis!.url, '--artifacts', shared], {}, procs);
  const r = await coord.exited;
  assert.equal(r.code, 0, coord.stderr());
  assertSameSweep(reference, out);
  const wr = await w.exited;
  assert.equal(wr.code, 0, w.stderr());
  assert.match(w.stderr(), /stopped after 4 job\(s\), 0 failed/);
  // Two model copies (one per concurrent slot), not one per cell.
  assert.ok((w.stderr().match(/loaded .* on backend/g) ?? []).length <= 2, w.stderr());
  assert.deepEqual(readdirSync(shared), [], 'the coordinator removes each job directory after gathering it');
});
