import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTaskSource } from '../src/data/task-source.js';
import { cosine, groupingSimilarity, shapeOf, taskSimilarity } from '../src/data/task-similarity.js';
import type { NiTask } from '../src/data/ni-task.js';

const src = openTaskSource('builtin');
const load = (name: string): NiTask => src.load(name, 100);
const clients = (...names: string[]) => names.map((n) => ({ name: n.slice(0, 7), tasks: [load(n)] }));

const EVENS = 'task205_remove_even_elements';
const ODDS = 'task369_synthetic_remove_odds';
const DIV3 = 'task370_synthetic_remove_divisible_by_3';
const REVERSE = 'task376_reverse_order_of_words';
const VOWELS = 'task365_synthetic_remove_vowels';

test('shapes keep the format and drop the content', () => {
  assert.equal(shapeOf('[12, -7]'), '[9,_-9]');
  assert.equal(shapeOf("Sentence: 'a  cat'"), "a:_'a_a'");
});

test('cosine of bags: identical 1, disjoint 0, empty 0', () => {
  const a = new Map([['x', 1], ['y', 2]]);
  assert.ok(Math.abs(cosine(a, new Map([['x', 2], ['y', 4]])) - 1) < 1e-12);
  assert.equal(cosine(a, new Map([['z', 1]])), 0);
  assert.equal(cosine(a, new Map()), 0);
  assert.ok(Math.abs(cosine(a, new Map([['x', 1]])) - 1 / Math.sqrt(5)) < 1e-12);
});

test('a task is fully similar to itself; the measure is symmetric and in [0, 1]', () => {
  assert.ok(Math.abs(taskSimilarity(load(EVENS), load(EVENS)) - 1) < 1e-12);
  const ab = taskSimilarity(load(EVENS), load(REVERSE));
  assert.equal(ab, taskSimilarity(load(REVERSE), load(EVENS)));
  assert.ok(ab >= 0 && ab <= 1);
});

test('remove-evens is much closer to remove-odds than to reverse-words', () => {
  const near = taskSimilarity(load(EVENS), load(ODDS));
  const far = taskSimilarity(load(EVENS), load(REVERSE));
  assert.ok(near > 0.5, `remove-evens vs remove-odds ${near}`);
  assert.ok(far < 0.1, `remove-evens vs reverse-words ${far}`);
});

test('grouping similarity orders similar > mixed > dissimilar', () => {
  const similar = groupingSimilarity(clients(EVENS, ODDS, DIV3));
  const mixed = groupingSimilarity(clients(EVENS, ODDS, REVERSE));
  const dissimilar = groupingSimilarity(clients(EVENS, REVERSE, VOWELS));
  assert.ok(similar.mean > mixed.mean && mixed.mean > dissimilar.mean, `${similar.mean} > ${mixed.mean} > ${dissimilar.mean}`);
  assert.deepEqual(
    similar.pairs.map((p) => [p.a, p.b]),
    [['task205', 'task369'], ['task205', 'task370'], ['task369', 'task370']],
  );
  const m = similar.pairs.reduce((s, p) => s + p.value, 0) / 3;
  assert.ok(Math.abs(similar.mean - m) < 1e-12, 'mean of the pairs');
});

test('a client with several tasks is compared through its combined profile; one client has no pairs', () => {
  const mixedClient = { name: 'both', tasks: [load(EVENS), load(REVERSE)] };
  const g = groupingSimilarity([mixedClient, { name: 'odds', tasks: [load(ODDS)] }, { name: 'rev', tasks: [load(REVERSE)] }]);
  const toOdds = g.pairs.find((p) => p.b === 'odds')!.value;
  assert.ok(toOdds > taskSimilarity(load(REVERSE), load(ODDS)) && toOdds < taskSimilarity(load(EVENS), load(ODDS)), 'between its tasks');
  const one = groupingSimilarity([mixedClient]);
  assert.ok(Number.isNaN(one.mean));
  assert.deepEqual(one.pairs, []);
});
