/**
 * colora bench on a tiny workload: the JSON fields, and the numerics rule (the fast engine's
 * loss equals plain tfjs cpu's for the same seed, to 1e-4 relative).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBench } from '../src/engine/bench-command.js';
import { UsageError } from '../src/util/errors.js';

const tiny = { layers: 2, d: 32, heads: 2, vocab: 64, ctx: 16, batch: 2, rank: 2, gen: 4, steps: 3 };

test('bench reports rates, RSS, loss and the workload; cpu and tfjs-cpu losses agree', async () => {
  const fast = await runBench({ ...tiny, backend: 'cpu' });
  assert.equal(fast.backend, 'cpu');
  assert.equal(fast.tf_backend, 'colora-cpu');
  assert.deepEqual(fast.model, tiny);
  assert.ok(fast.train_tokens_per_s > 0 && fast.generate_tokens_per_s > 0 && fast.peak_rss_mb > 0);
  assert.equal(fast.step_ms.length, tiny.steps);
  assert.equal(fast.generate_ms.length, 3);
  assert.ok(Number.isFinite(fast.final_loss));
  const plain = await runBench({ ...tiny, backend: 'tfjs-cpu' });
  assert.equal(plain.tf_backend, 'cpu');
  assert.ok(Math.abs(fast.final_loss - plain.final_loss) <= 1e-4 * Math.abs(plain.final_loss), `${fast.final_loss} vs ${plain.final_loss}`);
});

test('bench rejects a width that the heads do not divide', async () => {
  await assert.rejects(runBench({ ...tiny, d: 30, heads: 4, backend: 'cpu' }), (e: unknown) => e instanceof UsageError && /--d 30/.test(e.message));
});
