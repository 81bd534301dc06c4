import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPrompt } from '../src/data/prompt.js';
import { encodePrompt, encodeTarget } from '../src/data/encode.js';
import type { NiTask } from '../src/data/ni-task.js';
import type { Tokenizer } from '../src/tokenizer/load.js';

const task: NiTask = {
  name: 'task205_remove_even_elements',
  definition:
    'In this task you will be given a list of numbers. You should remove all of the even numbers from the list',
  positiveExamples: [
    { input: '[3, 0, 3, 8]', output: '[3, 3]', explanation: 'Zero and eight are even.' },
    { input: ' [1, 2] ', output: '[1]' },
  ],
  negativeExamples: [],
  instances: [{ id: 'x-0', input: '[64, 114, 134, 10, 196, 86]', output: ['[]'] }],
  source: 'inline',
};

test('Tk-Instruct prompt: definition only (period added to the definition, kept after "]")', () => {
  const p = buildPrompt(task, task.instances[0], { definition: true, positiveExamples: 0 });
  assert.equal(
    p,
    'Definition: In this task you will be given a list of numbers. You should remove all of the even numbers from the list.\n\n' +
      'Now complete the following example -\nInput: [64, 114, 134, 10, 196, 86]\nOutput: ',
  );
});

test('Tk-Instruct prompt: two positive examples, collator spacing, inputs stripped', () => {
  const p = buildPrompt(task, task.instances[0], { definition: true, positiveExamples: 2 });
  assert.equal(
    p,
    'Definition: In this task you will be given a list of numbers. You should remove all of the even numbers from the list.\n\n' +
      ' Positive Example 1 -\nInput: [3, 0, 3, 8]\n Output: [3, 3]\n\n' +
      ' Positive Example 2 -\nInput: [1, 2]\n Output: [1]\n\n' +
      'Now complete the following example -\nInput: [64, 114, 134, 10, 196, 86]\nOutput: ',
  );
});

test('Tk-Instruct prompt: no definition; an input without final punctuation gets a period', () => {
  const inst = { id: 'y', input: "Sentence: 'a child is making a face'  ", output: ['face'] };
  const plain = { id: 'z', input: 'hello world', output: ['x'] };
  assert.equal(
    buildPrompt(task, inst, { definition: false, positiveExamples: 0 }),
    "Now complete the following example -\nInput: Sentence: 'a child is making a face'\nOutput: ",
  );
  assert.equal(
    buildPrompt(task, plain, { definition: false, positiveExamples: 0 }),
    'Now complete the following example -\nInput: hello world.\nOutput: ',
  );
});

test('positive examples are dropped when they would exceed max_source_tokens', () => {
  const count = (s: string) => s.length; // a 1-char-per-token counter makes the limit exact
  const base = buildPrompt(task, task.instances[0], { definition: true, positiveExamples: 0 });
  const one = buildPrompt(task, task.instances[0], { definition: true, positiveExamples: 1 });
  assert.equal(buildPrompt(task, task.instances[0], { definition: true, positiveExamples: 2 }, count, one.length), one);
  assert.equal(buildPrompt(task, task.instances[0], { definition: true, positiveExamples: 2 }, count, one.length - 1), base);
});

/** One id per character: enough to check truncation arithmetic. */
const charTok: Tokenizer = {
  encode: (s) => [...s].map((c) => c.charCodeAt(0)),
  decode: (ids) => String.fromCharCode(...ids),
  vocabSize: 65536,
  eosTokenId: 0,
};

test('long prompts are cut in the body and keep the final "Output: " cue', () => {
  const prompt = 'Definition: ' + 'x'.repeat(100) + '\nOutput: ';
  const ids = encodePrompt(charTok, prompt, 30);
  assert.equal(ids.length, 30);
  assert.equal(charTok.decode(ids), 'Definition: ' + 'x'.repeat(10) + 'Output: ');
  assert.deepEqual(encodePrompt(charTok, 'short\nOutput: ', 30), charTok.encode('short\nOutput: '));
});

test('targets are cut to max_target_tokens and end with EOS', () => {
  assert.deepEqual(encodeTarget(charTok, 'abcdef', 3, 0), [97, 98, 99, 0]);
  assert.deepEqual(encodeTarget(charTok, 'ab', 3, 0), [97, 98, 0]);
});
