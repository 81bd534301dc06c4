import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainBpeTokenizer } from '../src/tokenizer/train-bpe.js';
import { saveTokenizer } from '../src/tokenizer/save.js';
import { BYTE_TO_CHAR, numberSplitOf, preTokenize, pretokenizePattern } from '../src/tokenizer/byte-level.js';
import { UsageError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { tempDir } from './helpers/temp.js';

const EOT = '<|endoftext|>';

/** NI-style prompts: a definition, a list of numbers, an answer. */
function niCorpus(n: number, seed: number): string[] {
  const rng = new Rng(seed, 'tokenizer-train');
  const words = 'in this task you will be given a list of numbers sort them remove every odd value return the sentence'.split(' ');
  const pick = () => words[Math.floor(rng.next() * words.length)]!;
  return Array.from({ length: n }, () => {
    const nums = Array.from({ length: 1 + Math.floor(rng.next() * 6) }, () => Math.floor(rng.next() * 400) - 200);
    const def = Array.from({ length: 10 }, pick).join(' ');
    return `Definition: ${def}.\n\nNow complete the following example -\nInput: [${nums.join(', ')}]\nOutput: [${nums.filter((x) => x % 2 === 0).join(', ')}]`;
  });
}

test('pre-tokenizer: GPT-2 split with numbers cut into single digits', () => {
  assert.deepEqual(preTokenize('Input: [12, -5, 330]'), ['Input', ':', ' [', '1', '2', ',', ' -', '5', ',', ' 3', '3', '0', ']']);
  // A whitespace run before a word leaves its last space to the word (GPT-2's `\s+(?!\S)`).
  assert.deepEqual(preTokenize("it's  a\n\nb  \n"), ['it', "'s", ' ', ' a', '\n', '\n', 'b', '  \n']);
  assert.equal(preTokenize('héllo 😀 ٣½ \u0085x').join(''), 'héllo 😀 ٣½ \u0085x');
});

test('pre-tokenizer, groups3: runs of up to three digits, the space before a number its own token', () => {
  assert.deepEqual(preTokenize('Input: [12, -5, 330]', 'groups3'), ['Input', ':', ' [', '12', ',', ' -', '5', ',', ' ', '330', ']']);
  assert.deepEqual(preTokenize('1234567 x9', 'groups3'), ['123', '456', '7', ' x', '9']);
  assert.equal(preTokenize('héllo 😀 ٣½ \u0085x 12345', 'groups3').join(''), 'héllo 😀 ٣½ \u0085x 12345');
  // Pattern and regex are the pair transformers.js sees: numberSplitOf reads a stored pattern back.
  for (const split of ['digits', 'groups3'] as const) assert.equal(numberSplitOf(pretokenizePattern(split)), split);
  assert.equal(numberSplitOf('\\p{N}+'), undefined);
});

test('groups3: numbers below 1000 become single tokens; no token holds four digits', () => {
  const texts = niCorpus(3000, 4);
  const { tokenizerJson } = trainBpeTokenizer(texts, { vocabSize: 1200, specialTokens: [EOT], numbers: 'groups3' });
  const vocab = tokenizerJson.model.vocab;
  for (const n of ['12', '100', '198']) assert.ok(vocab[n] !== undefined, `${n} is not one token`);
  for (const t of Object.keys(vocab)) assert.ok(!/[0-9]{4}/.test(t), `token ${t} holds four digits`);
  assert.equal(tokenizerJson.pre_tokenizer.pretokenizers[0].pattern.Regex, pretokenizePattern('groups3'));
});

test('ids: special tokens first, then the 256 bytes, then merges in learned order', () => {
  const { tokenizerJson, tokenizerConfig } = trainBpeTokenizer(niCorpus(1000, 1), {
    vocabSize: 330,
    minFrequency: 1,
    specialTokens: [EOT, '<|pad|>'],
    padToken: '<|pad|>',
  });
  const vocab = tokenizerJson.model.vocab;
  assert.equal(Object.keys(vocab).length, 330);
  assert.equal(vocab[EOT], 0);
  assert.equal(vocab['<|pad|>'], 1);
  for (let b = 0; b < 256; b++) assert.equal(vocab[BYTE_TO_CHAR[b]!], 2 + b);
  assert.equal(vocab['Ġ'], 2 + 32);
  assert.equal(tokenizerJson.model.merges.length, 330 - 2 - 256);
  // Each merge's result is a later id than both of its parts.
  const ids = Object.entries(vocab).sort((a, b) => a[1] - b[1]).map(([t]) => t);
  for (const [i, m] of tokenizerJson.model.merges.entries()) {
    const [l, r] = m.split(' ') as [string, string];
    assert.equal(ids[258 + i], l + r);
    assert.ok(vocab[l]! < 258 + i && vocab[r]! < 258 + i);
  }
  assert.deepEqual(
    tokenizerJson.added_tokens.map((t) => [t.id, t.content, t.special]),
    [[0, EOT, true], [1, '<|pad|>', true]],
  );
  assert.equal(tokenizerConfig.eos_token, EOT);
  assert.equal(tokenizerConfig.bos_token, EOT);
  assert.equal(tokenizerConfig.pad_token, '<|pad|>');
  assert.equal(tokenizerConfig.clean_up_tokenization_spaces, false);
  assert.equal(tokenizerConfig.add_bos_token, false);
  assert.equal(tokenizerConfig.add_eos_token, false);
});

test('merges follow pair frequency, ties to the older (smaller-id) pair', () => {
  // Pre-tokens: "ab", " ab", " ab", " cd" → (a,b)=3, (Ġ,a)=2, (Ġ,c)=(c,d)=1, and "Ġ" (byte 32)
  // is older than "c" (byte 99).
  const { tokenizerJson } = trainBpeTokenizer(['ab ab ab cd'], { vocabSize: 261, specialTokens: [EOT], minFrequency: 1 });
  assert.deepEqual(tokenizerJson.model.merges, ['a b', 'Ġ ab', 'Ġ c', 'Ġc d']);
  // Overlapping pairs: "aaaa" is 3 × (a,a) but merges into "aa aa".
  const t2 = trainBpeTokenizer(['aaaa'], { vocabSize: 259, specialTokens: [EOT], minFrequency: 1 }).tokenizerJson;
  assert.deepEqual(t2.model.merges, ['a a', 'aa aa']);
});

test('digits are never merged with each other; special tokens are never learned from', () => {
  const texts = niCorpus(400, 2);
  const { tokenizerJson } = trainBpeTokenizer([texts.join(EOT)], { vocabSize: 600, specialTokens: [EOT] });
  const learned = Object.keys(tokenizerJson.model.vocab).filter((t) => t.length > 1 && t !== EOT);
  assert.ok(learned.length > 100);
  for (const t of learned) {
    assert.ok(!/[0-9].*[0-9]/.test(t), `token ${t} holds two digits`);
    assert.ok(!t.includes('endoftext') && !t.includes('|>'), `token ${t} was learned from the special token`);
  }
});

test('minFrequency: no pair seen fewer times is merged, so training may stop early', () => {
  const { tokenizerJson } = trainBpeTokenizer(['xy xy xy qz'], { vocabSize: 1000, specialTokens: [EOT], minFrequency: 3 });
  assert.deepEqual(tokenizerJson.model.merges, ['x y']);
  assert.equal(Object.keys(tokenizerJson.model.vocab).length, 1 + 256 + 1);
});

test('deterministic: same corpus (in any order) → byte-identical files', () => {
  const texts = niCorpus(500, 3);
  const opts = { vocabSize: 700, specialTokens: [EOT] };
  const dirs = [texts, texts, [...texts].reverse()].map((corpus) => {
    const dir = tempDir('colora-tok-');
    saveTokenizer(dir, trainBpeTokenizer(corpus, opts));
    return dir;
  });
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
    const [a, b, c] = dirs.map((d) => readFileSync(join(d, file)));
    assert.ok(a!.equals(b!), `${file} differs between two runs`);
    assert.ok(a!.equals(c!), `${file} depends on corpus order`);
  }
});

test('bad options are UsageErrors that name the option', () => {
  const bad: Array<[Parameters<typeof trainBpeTokenizer>[1], RegExp]> = [
    [{ vocabSize: 256, specialTokens: [EOT] }, /vocabSize: expected an integer >= 257/],
    [{ vocabSize: 300, specialTokens: [] }, /specialTokens/],
    [{ vocabSize: 300, specialTokens: [EOT, EOT] }, /specialTokens: duplicates/],
    [{ vocabSize: 300, specialTokens: [EOT], eosToken: '</s>' }, /eosToken "<\/s>" must be one of specialTokens/],
    [{ vocabSize: 300, specialTokens: [EOT], minFrequency: 0 }, /minFrequency/],
  ];
  for (const [opts, msg] of bad) {
    assert.throws(() => trainBpeTokenizer(['abc'], opts), (e: unknown) => e instanceof UsageError && msg.test(e.message));
  }
});
