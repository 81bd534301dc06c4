import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomRepeatBlocks, repeatBlocks } from '../src/train/repeat-blocks.js';
import { Rng } from '../src/util/rng.js';

test('repeat blocks: a shuffled span of the source\'s distinct tokens, repeated to the block length, loss on the repeats only', () => {
  const source = [{ promptIds: Array.from({ length: 257 }, (_, i) => 1000 + (i % 200)), targetIds: [] }];
  const blocks = repeatBlocks(source, 20, new Rng(3, 'repeat-test'), { length: 257, minSpan: 8, maxSpan: 64 });
  assert.equal(blocks.length, 20);
  for (const b of blocks) {
    assert.equal(b.promptIds.length, 257);
    assert.deepEqual(b.targetIds, []);
    const span = b.weights!.indexOf(1);
    assert.ok(span >= 8 && span <= 64, `span ${span}`);
    assert.ok(b.weights!.slice(0, span).every((w) => w === 0) && b.weights!.slice(span).every((w) => w === 1));
    // The span is a window of the source's distinct tokens (shuffled), and the block repeats it.
    const ids = b.promptIds.slice(0, span);
    const lo = Math.min(...ids);
    assert.deepEqual([...ids].sort((x, y) => x - y), Array.from({ length: span }, (_, i) => lo + i));
    assert.equal(new Set(ids).size, span);
    for (let k = span; k < 257; k++) assert.equal(b.promptIds[k], b.promptIds[k - span]);
  }
  // Seeded: the same rng gives the same blocks.
  assert.deepEqual(repeatBlocks(source, 5, new Rng(3, 'x'), { length: 257, minSpan: 8, maxSpan: 64 }), repeatBlocks(source, 5, new Rng(3, 'x'), { length: 257, minSpan: 8, maxSpan: 64 }));
});

test('random repeat blocks: distinct ids from the range, repeated, loss on the repeats only', () => {
  const blocks = randomRepeatBlocks(10, 1, 511, new Rng(4, 'r'), { length: 129, minSpan: 8, maxSpan: 32 });
  for (const b of blocks) {
    const span = b.weights!.indexOf(1);
    assert.ok(span >= 8 && span <= 32);
    const ids = b.promptIds.slice(0, span);
    assert.equal(new Set(ids).size, span);
    assert.ok(ids.every((i) => i >= 1 && i <= 511));
    for (let k = span; k < 129; k++) assert.equal(b.promptIds[k], b.promptIds[k - span]);
  }
});
