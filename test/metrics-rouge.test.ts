import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lcsLength, rougeL, rougeLMax, rougeLScore, rougeTokenize } from '../src/metrics/rouge.js';
import { scorePrediction } from '../src/metrics/score-prediction.js';
import { REPO_ROOT } from './helpers/shared.js';

const close = (actual: number, expected: number, msg?: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${msg ?? ''} expected ${expected}, got ${actual}`);

test('tokenize: lowercase, [a-z0-9] runs, stems only tokens longer than 3', () => {
  assert.deepEqual(rougeTokenize('The Dogs were RUNNING, fast!'), ['the', 'dog', 'were', 'run', 'fast']);
  assert.deepEqual(rougeTokenize("don't e-mail 3.14"), ['don', 't', 'e', 'mail', '3', '14']);
  assert.deepEqual(rougeTokenize('ads cats'), ['ads', 'cat']); // 'ads' has 3 characters: not stemmed
  assert.deepEqual(rougeTokenize('café naïve Straße'), ['caf', 'na', 've', 'stra', 'e']); // non-ASCII letters separate
  assert.deepEqual(rougeTokenize('東京 日本語 😀'), []);
  assert.deepEqual(rougeTokenize('\u0130\u212A'), ['i', 'k']); // İ lowercases to i + U+0307 (a separator), the Kelvin sign to k
  assert.deepEqual(rougeTokenize('  \t\n '), []);
});

test('lcsLength', () => {
  assert.equal(lcsLength(['a', 'b', 'c', 'd'], ['a', 'c', 'd', 'b']), 3);
  assert.equal(lcsLength(['a', 'b', 'c'], ['c', 'b', 'a']), 1);
  assert.equal(lcsLength([], ['a']), 0);
});

test('rougeL: hand-computed F-measures', () => {
  // LCS 5 of 6 and 6 tokens.
  close(rougeL('The cat sat on the mat', 'the cat is on the mat'), 5 / 6);
  // Stemming makes 'running dogs' equal 'run dog'.
  assert.equal(rougeL('running dogs', 'run dog'), 1);
  assert.equal(rougeL('ran', 'run'), 0);
  assert.equal(rougeL('ads', 'ad'), 0); // unstemmed 3-letter token
  // Order matters: only one token of a permutation lines up.
  close(rougeL('a b c', 'c b a'), 1 / 3);
  // P = 1/2, R = 1/3 -> F = 0.4.
  close(rougeL('2023 results', 'results for 2023'), 0.4);
  assert.equal(rougeL('Dying', 'die'), 1);
  assert.equal(rougeL('skies', 'sky'), 1);
});

test('rougeLScore: precision is over the prediction, recall over the target', () => {
  const s = rougeLScore('a b c d', 'a b');
  assert.deepEqual(s, { precision: 1, recall: 0.5, fmeasure: 2 / 3 });
});

test('rougeL: a side without tokens scores 0', () => {
  assert.equal(rougeL('', ''), 0);
  assert.equal(rougeL('', 'answer'), 0);
  assert.equal(rougeL('answer', ''), 0);
  assert.equal(rougeL('...', '...'), 0);
  assert.equal(rougeL('東京', '東京'), 0);
  assert.equal(rougeL('café', 'caf'), 1);
});

test('rougeLMax: best reference wins; no references is an error', () => {
  // 'a x': LCS 1, P = 1/4, R = 1/2 -> 1/3; 'a b c e': LCS 3, P = R = 3/4.
  close(rougeLMax('a b c d', ['a x', 'a b c e']), 0.75);
  close(rougeLMax('a b c d', ['a b c e', 'a x']), 0.75);
  assert.equal(rougeLMax('x', ['', 'y']), 0);
  assert.throws(() => rougeLMax('x', []), RangeError);
});

test('scorePrediction returns both metrics', () => {
  assert.deepEqual(scorePrediction('The answer.', ['answer', 'the answer']), { rougeL: 1, exact_match: 1 });
  assert.deepEqual(scorePrediction('answers', ['the answer']), { rougeL: 2 / 3, exact_match: 0 });
});

test('agrees with rouge_score + NI exact match on the golden set', () => {
  const lines = readFileSync(join(REPO_ROOT, 'test/fixtures/rouge-golden.jsonl'), 'utf8').split('\n').filter(Boolean);
  assert.ok(lines.length >= 300, `golden set holds ${lines.length} cases`);
  for (const [i, line] of lines.entries()) {
    const c = JSON.parse(line) as { prediction: string; references: string[]; rougeL: number; exact_match: 0 | 1 };
    const got = scorePrediction(c.prediction, c.references);
    const where = `golden line ${i + 1}: ${line.slice(0, 120)}`;
    assert.ok(Math.abs(got.rougeL - c.rougeL) < 1e-6, `${where}: rougeL ${got.rougeL} vs ${c.rougeL}`);
    assert.equal(got.exact_match, c.exact_match, `${where}: exact_match`);
  }
});
