import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exactMatch, normalizeAnswer } from '../src/metrics/exact-match.js';

test('normalizeAnswer: lowercase, ASCII punctuation removed, whitespace collapsed, articles kept', () => {
  assert.equal(normalizeAnswer('  The   ANSWER.\t\n'), 'the answer');
  assert.equal(normalizeAnswer("don't e-mail (A) [b] {c}"), 'dont email a b c');
  assert.equal(normalizeAnswer('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'), '');
  assert.equal(normalizeAnswer('“yes” — answer…'), '“yes” — answer…'); // non-ASCII punctuation stays
});

test("normalizeAnswer splits on exactly Python's str.split() whitespace", () => {
  // Python counts U+001C..U+001F and U+0085 as whitespace, JS \s does not; U+FEFF is the reverse.
  assert.equal(normalizeAnswer('a\x1cb\x1fc\x85d\u3000e\u00a0f'), 'a b c d e f');
  assert.equal(normalizeAnswer('a\ufeffb'), 'a\ufeffb');
});

test('exactMatch', () => {
  assert.equal(exactMatch('The Answer.', ['the answer']), 1); // case and punctuation
  assert.equal(exactMatch('answer', ['the answer']), 0); // articles are not removed
  assert.equal(exactMatch('  the\tanswer \n', ['the answer']), 1); // whitespace collapse
  assert.equal(exactMatch('e-mail', ['email']), 1); // punctuation is deleted, not replaced by a space
  assert.equal(exactMatch('e-mail', ['e mail']), 0);
  assert.equal(exactMatch('answer…', ['answer']), 0);
  assert.equal(exactMatch('yes', ['no', 'Yes!']), 1); // any reference
  assert.equal(exactMatch('maybe', ['no', 'yes']), 0);
  assert.equal(exactMatch('', ['']), 1); // NI compares normalized strings, so empty equals empty
  assert.equal(exactMatch('', ['.']), 1);
  assert.throws(() => exactMatch('x', []), RangeError);
});
