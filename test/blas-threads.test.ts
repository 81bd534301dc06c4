import assert from 'node:assert/strict';
import { test } from 'node:test';
import { busyCpusNow, chooseBlasThreads } from '../src/engine/blas-threads.js';

const never = () => {
  throw new Error('busyNow must not be asked');
};

test('BLAS threads: an explicit setting wins (COLORA_BLAS_THREADS first), and is not second-guessed', () => {
  assert.deepEqual(chooseBlasThreads({ COLORA_BLAS_THREADS: '3', OPENBLAS_NUM_THREADS: '1' }, 2, 9, never), { threads: 3, reason: '3 (set)' });
  assert.equal(chooseBlasThreads({ OPENBLAS_NUM_THREADS: '1' }, 2, 0, never).threads, 1);
});

test('BLAS threads: every CPU when the load average is low, without sampling', () => {
  assert.equal(chooseBlasThreads({}, 2, 1.4, never).threads, 2);
  assert.equal(chooseBlasThreads({ COLORA_BLAS_THREADS: 'lots' }, 4, 0.2, never).threads, 4, 'a bad value falls back to auto');
});

test('BLAS threads: a high load average is checked against the CPUs in use now', () => {
  const afterHeavyRun = chooseBlasThreads({}, 2, 1.9, () => 0.05);
  assert.equal(afterHeavyRun.threads, 2);
  assert.match(afterHeavyRun.reason, /load 1\.9 on 2 CPUs, 0\.1 busy now/);
  assert.equal(chooseBlasThreads({}, 2, 4.5, () => 1.8).threads, 1, 'others busy now: one thread');
  assert.equal(chooseBlasThreads({}, 2, 4.5, () => undefined).threads, 1, 'no /proc/stat: the load average decides');
});

test('busyCpusNow reads /proc/stat where there is one', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  const busy = busyCpusNow(20);
  assert.ok(busy !== undefined && busy >= 0 && busy <= 64, `busy ${busy}`);
});
