import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainBpeTokenizer } from '../src/tokenizer/train-bpe.js';
import { saveTokenizer } from '../src/tokenizer/save.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { createReferenceEncoder } from '../src/tokenizer/bpe-encode.js';
import type { TrainedTokenizer } from '../src/tokenizer/format.js';
import { UsageError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { REPO_ROOT } from './helpers/shared.js';
import { tempDir } from './helpers/temp.js';

const EOT = '<|endoftext|>';

const CORPUS = [
  "Definition: In this task, you're given a list of integers. Return the list sorted in ascending order.",
  'Now complete the following example -\nInput: [12, -5, 33, 0, 1000]\nOutput: [-5, 0, 12, 33, 1000]',
  'Definition: Given a sentence, count the words that begin with a vowel.\n\nInput: An apple a day.\nOutput: 3',
  "Positive Example 1 -\nInput: It's raining; we'll stay in.\nOutput: negative",
  'Café, naïve, façade — “quotes”, 漢字かな, emoji 😀🎉, tabs\tand  double  spaces.',
].flatMap((t, i) => Array.from({ length: 40 }, (_, j) => t.replace(/\d+/g, (d) => String((Number(d) * (i + j + 1)) % 997))));

const POOL = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...' ,.;:!?-+*/=()[]{}<>"\'`~@#$%^&_|\\',
  ' ', ' ', '  ', '\t', '\n', '\n\n', '\r\n',
  'é', 'ß', 'ñ', 'e\u0301', '漢', 'か', 'Ж', 'ع', '٣', '½', '²', 'Ⅻ',
  '😀', '👨‍👩‍👧', '🇫🇷', '\u00a0', '\u0085', '\ufeff', '\u3000', '\u200b',
  "'s", "'ll", ' Definition', ' Input', ' Output', EOT,
];

/** Hand-picked edge cases plus `n` random strings drawn from POOL. */
function testStrings(n: number): string[] {
  const rng = new Rng(11, 'tokenizer-load');
  const fixed = [
    ...CORPUS.slice(0, 5),
    'a', ' ', '   ', '\n', '\n\n\n', ' \n \n', '\t\t x', 'x   ', '0', '007', '-12.5e3', '3.14159',
    '[1, 2, 3]', "I'm won't they'll", 'IT\'S', '😀😀😀', '👍🏽 ok', 'مرحبا ٣٤', '½ + ² = Ⅻ',
    '\u0085a\u0085', '\ufeffBOM', 'Ünïcödé', '...!!!???', EOT, `${EOT}${EOT}`, `a${EOT}b`, '<|endoftext', '|>',
  ];
  const random = Array.from({ length: n }, () =>
    Array.from({ length: 1 + Math.floor(rng.next() * 30) }, () => POOL[Math.floor(rng.next() * POOL.length)]!).join(''),
  );
  return [...fixed, ...random];
}

function trainedDir(trained: TrainedTokenizer): string {
  const dir = tempDir('colora-tok-');
  saveTokenizer(dir, trained);
  return dir;
}

const trained = trainBpeTokenizer(CORPUS, { vocabSize: 420, specialTokens: [EOT], minFrequency: 1 });
const modelDir = trainedDir(trained);

test('loads through transformers.js and round-trips text exactly', async () => {
  const tok = (await loadTokenizer(modelDir))!;
  assert.equal(tok.engine, 'transformers');
  assert.equal(tok.vocabSize, Object.keys(trained.tokenizerJson.model.vocab).length);
  for (const s of testStrings(300)) {
    const ids = tok.encode(s);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize));
    assert.equal(tok.decode(ids), s, `round trip of ${JSON.stringify(s)}`);
  }
  assert.deepEqual(tok.encode(''), []);
  assert.equal(tok.decode([]), '');
});

test('the reference encoder (what the trainer meant) gives the ids transformers.js gives', async () => {
  const tok = (await loadTokenizer(modelDir))!;
  const ref = createReferenceEncoder(trained.tokenizerJson);
  let compared = 0;
  for (const s of testStrings(400)) {
    assert.deepEqual(ref.encode(s), tok.encode(s), `ids of ${JSON.stringify(s)}`);
    compared++;
  }
  assert.ok(compared > 400);
  // Learned merges are really used: a frequent word is one token, digits stay one per id.
  assert.equal(tok.encode('Definition').length, 1);
  assert.equal(tok.encode('1000').length, 4);
});

test('groups3 tokenizers: transformers.js and the reference encoder agree, round trips are exact', async () => {
  const t3 = trainBpeTokenizer(CORPUS, { vocabSize: 420, specialTokens: [EOT], minFrequency: 1, numbers: 'groups3' });
  const tok = (await loadTokenizer(trainedDir(t3)))!;
  const ref = createReferenceEncoder(t3.tokenizerJson);
  for (const s of testStrings(300)) {
    assert.deepEqual(ref.encode(s), tok.encode(s), `ids of ${JSON.stringify(s)}`);
    assert.equal(tok.decode(tok.encode(s)), s);
  }
  // No token crosses a group of three digits.
  const pieces = tok.encode('1234567').map((id) => tok.decode([id]));
  assert.equal(pieces.join(''), '1234567');
  assert.ok(pieces.length >= 3 && pieces.every((p) => p.length <= 3), `pieces ${pieces}`);
});

test('special tokens: recognised in text, never added implicitly, decoded verbatim', async () => {
  const tok = (await loadTokenizer(modelDir))!;
  assert.equal(tok.eosTokenId, 0);
  assert.equal(tok.bosTokenId, 0);
  assert.equal(tok.padTokenId, 0); // no pad_token: EOS, as transformers.js does
  assert.deepEqual(tok.encode(EOT), [0]);
  const plain = tok.encode('Input: [1, 2]');
  assert.ok(!plain.includes(0), 'encode added a special token');
  assert.deepEqual(tok.encode(`Input: [1, 2]${EOT}`), [...plain, 0]);
  assert.deepEqual(tok.encode(`${EOT}Input: [1, 2]`), [0, ...plain]);
  assert.equal(tok.decode([...plain, 0]), `Input: [1, 2]${EOT}`);

  const withPad = trainedDir(
    trainBpeTokenizer(CORPUS, { vocabSize: 300, specialTokens: [EOT, '<|pad|>'], padToken: '<|pad|>' }),
  );
  const tok2 = (await loadTokenizer(withPad))!;
  assert.deepEqual([tok2.eosTokenId, tok2.bosTokenId, tok2.padTokenId], [0, 0, 1]);
  assert.deepEqual(tok2.encode('<|pad|>'), [1]);
});

test('the @huggingface/tokenizers fallback encodes and decodes identically', async () => {
  const viaTransformers = (await loadTokenizer(modelDir))!;
  const direct = (await loadTokenizer(modelDir, { engine: 'tokenizers' }))!;
  assert.equal(direct.engine, 'tokenizers');
  for (const key of ['vocabSize', 'eosTokenId', 'bosTokenId', 'padTokenId'] as const) {
    assert.equal(direct[key], viaTransformers[key], key);
  }
  for (const s of testStrings(100)) {
    const ids = viaTransformers.encode(s);
    assert.deepEqual(direct.encode(s), ids);
    assert.equal(direct.decode(ids), viaTransformers.decode(ids));
  }
});

test('a directory without tokenizer.json gives undefined; nothing is fetched', async () => {
  const realFetch = globalThis.fetch;
  const fetched: unknown[] = [];
  globalThis.fetch = (async (input: unknown) => {
    fetched.push(input);
    throw new Error('network used');
  }) as typeof fetch;
  try {
    const empty = tempDir('colora-tok-');
    assert.equal(await loadTokenizer(empty), undefined);
    assert.equal(await loadTokenizer(join(empty, 'no-such-model')), undefined);
    mkdirSync(join(empty, 'tokenizer.json')); // a directory of that name is not a tokenizer file
    assert.equal(await loadTokenizer(empty), undefined);
    assert.ok(await loadTokenizer(modelDir));
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.deepEqual(fetched, []);
});

test('malformed files are UsageErrors naming the file', async () => {
  const cases: Array<[string, string, string | undefined, RegExp]> = [
    ['truncated', 'tokenizer.json', '{"model": {"type": "BPE"', /not valid JSON/],
    ['array', 'tokenizer.json', '[1, 2]', /expected a JSON object/],
    ['no model', 'tokenizer.json', '{"added_tokens": []}', /not a usable tokenizer/],
    ['bad config', 'tokenizer_config.json', '{eos_token: 1', /not valid JSON/],
  ];
  for (const [name, file, text, msg] of cases) {
    const dir = tempDir(`colora-tok-${name}-`);
    if (file === 'tokenizer_config.json') saveTokenizer(dir, trained);
    writeFileSync(join(dir, file), text ?? '');
    await assert.rejects(loadTokenizer(dir), (e: unknown) => {
      assert.ok(e instanceof UsageError, `${name}: ${String(e)}`);
      assert.equal(e.exitCode, 2);
      assert.ok(e.message.startsWith(join(dir, file) + ':'), `${name}: ${e.message}`);
      assert.match(e.message, msg);
      return true;
    });
  }
});

test('transformers.js (and onnxruntime-node) load only when a tokenizer is', (t) => {
  const empty = tempDir('colora-tok-', t);
  const script = `
    import { createRequire } from 'node:module';
    const { loadTokenizer } = await import('./dist/src/tokenizer/load.js');
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('onnxruntime-node'));
    const before = loaded();
    await loadTokenizer(${JSON.stringify(empty)});
    const afterMissing = loaded();
    await loadTokenizer(${JSON.stringify(modelDir)});
    console.log(JSON.stringify([before, afterMissing, loaded()]));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), [false, false, true]);
});
