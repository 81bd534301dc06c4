import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitTask } from '../src/data/split.js';
import { UsageError } from '../src/util/errors.js';
import type { NiTask } from '../src/data/ni-task.js';

function makeTask(n: number): NiTask {
  return {
    name: 'toy',
    definition: 'd',
    positiveExamples: [],
    negativeExamples: [],
    instances: Array.from({ length: n }, (_, i) => ({ id: `toy-${i}`, input: `in ${i}`, output: [`out ${i}`] })),
    source: '/data/toy.json',
  };
}

test('test set is the first N instances; train is drawn from the rest', () => {
  const s = splitTask(makeTask(100), 20, 30, 0);
  assert.deepEqual(s.test.map((i) => i.id), Array.from({ length: 30 }, (_, i) => `toy-${i}`));
  assert.equal(s.train.length, 20);
  const testIds = new Set(s.test.map((i) => i.id));
  assert.ok(s.train.every((i) => !testIds.has(i.id)));
  assert.equal(new Set(s.train.map((i) => i.id)).size, 20);
});

test('same seed, same split; another seed, another train set but the same test set', () => {
  const a = splitTask(makeTask(100), 20, 30, 7);
  const b = splitTask(makeTask(100), 20, 30, 7);
  const c = splitTask(makeTask(100), 20, 30, 8);
  assert.deepEqual(a.train.map((i) => i.id), b.train.map((i) => i.id));
  assert.notDeepEqual(a.train.map((i) => i.id), c.train.map((i) => i.id));
  assert.deepEqual(a.test, c.test);
});

test('too few instances is a bad-input error naming the file and the counts', () => {
  assert.throws(
    () => splitTask(makeTask(40), 20, 30, 0),
    (e: unknown) =>
      e instanceof UsageError && e.exitCode === 2 && /\/data\/toy\.json/.test(e.message) && /40 instances/.test(e.message) && /20 \+ 30 = 50/.test(e.message),
  );
});
