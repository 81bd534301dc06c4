/**
 * colora bench on a tiny workload: the JSON fields, and the numerics rule (the fast engine's
 * loss equals plain tfjs cpu's for the same seed, to 1e-4 relative).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_WARMUP_CPU, runBench } from '../src/train/bench-command.js';
import { UsageError } from '../src/util/errors.js';

const tiny = { layers: 2, d: 32, heads: 2, vocab: 64, ctx: 16, batch: 2, rank: 2, gen: 4, steps: 3, warmup: 0 };

test('bench reports rates, RSS, loss and the workload; cpu and tfjs-cpu losses agree', async () => {
  const fast = await runBench({ ...tiny, backend: 'cpu' });
  assert.equal(fast.backend, 'cpu');
  assert.equal(fast.tf_backend, 'colora-cpu');
  assert.deepEqual(fast.model, { arch: 'gpt2', ...tiny });
  assert.ok(fast.train_tokens_per_s > 0 && fast.generate_tokens_per_s > 0 && fast.peak_rss_mb > 0);
  assert.equal(fast.step_ms.length, tiny.steps);
  assert.equal(fast.generate_ms.length, 3);
  assert.deepEqual([fast.warmup_step_ms, fast.warmup_generate_ms], [[], []]);
  assert.ok(Number.isFinite(fast.final_loss));
  const plain = await runBench({ ...tiny, backend: 'tfjs-cpu' });
  assert.equal(plain.tf_backend, 'cpu');
  assert.ok(Math.abs(fast.final_loss - plain.final_loss) <= 1e-4 * Math.abs(plain.final_loss), `${fast.final_loss} vs ${plain.final_loss}`);
});

test('bench --arch llama: grouped-query workload with the reference defaults; cpu and tfjs-cpu losses agree', async () => {
  const llama = { ...tiny, arch: 'llama' as const, d: 24, heads: 4 };
  const fast = await runBench({ ...llama, backend: 'cpu' });
  // The reference's defaults: kv heads = heads / 2, SwiGLU width 8d/3 rounded up to 64.
  assert.deepEqual(fast.model, { ...llama, kvHeads: 2, ffn: 64 });
  assert.ok(fast.train_tokens_per_s > 0 && fast.generate_tokens_per_s > 0 && Number.isFinite(fast.final_loss));
  const plain = await runBench({ ...llama, kvHeads: 1, ffn: 40, backend: 'tfjs-cpu' });
  assert.deepEqual([plain.model.kvHeads, plain.model.ffn], [1, 40]);
  const fast1 = await runBench({ ...llama, kvHeads: 1, ffn: 40, backend: 'cpu' });
  assert.ok(Math.abs(fast1.final_loss - plain.final_loss) <= 1e-4 * Math.abs(plain.final_loss), `${fast1.final_loss} vs ${plain.final_loss}`);
});

test('bench rejects --kv-heads that do not divide the heads, an odd head size, and Llama options with --arch gpt2', async () => {
  const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);
  await assert.rejects(runBench({ ...tiny, arch: 'llama', d: 24, heads: 4, kvHeads: 3, backend: 'cpu' }), usage(/--kv-heads 3 does not divide --heads 4/));
  await assert.rejects(runBench({ ...tiny, arch: 'llama', d: 20, heads: 4, backend: 'cpu' }), usage(/even head size/));
  await assert.rejects(runBench({ ...tiny, kvHeads: 1, backend: 'cpu' }), usage(/--kv-heads applies to --arch llama only/));
  await assert.rejects(runBench({ ...tiny, ffn: 64, backend: 'cpu' }), usage(/--ffn applies to --arch llama only/));
});

test('bench rejects a width that the heads do not divide', async () => {
  await assert.rejects(runBench({ ...tiny, d: 30, heads: 4, backend: 'cpu' }), (e: unknown) => e instanceof UsageError && /--d 30/.test(e.message));
});

test('bench warm-up: untimed steps and generations on their own adapter leave the timed run and its loss unchanged', async () => {
  const cold = await runBench({ ...tiny, backend: 'cpu' });
  const warm = await runBench({ ...tiny, backend: 'cpu', warmup: 5 });
  assert.equal(warm.warmup_step_ms.length, 5);
  assert.equal(warm.warmup_generate_ms.length, 2);
  assert.equal(warm.step_ms.length, tiny.steps);
  assert.equal(warm.model.warmup, 5);
  assert.equal(warm.final_loss, cold.final_loss);
  // The default: 20 on the cpu engine, none on plain tfjs.
  const { warmup: _w, ...noWarmup } = tiny;
  assert.equal((await runBench({ ...noWarmup, steps: 2, backend: 'tfjs-cpu' })).model.warmup, 0);
  const byDefault = await runBench({ ...noWarmup, steps: 2, backend: 'cpu' });
  assert.deepEqual([byDefault.model.warmup, byDefault.warmup_step_ms.length], [DEFAULT_WARMUP_CPU, DEFAULT_WARMUP_CPU]);
  await assert.rejects(runBench({ ...tiny, warmup: -1, backend: 'cpu' }), (e: unknown) => e instanceof UsageError && /--warmup -1/.test(e.message));
});
