/**
 * Llama-family tokenizers from a model directory (test/helpers/hf-tokenizers.ts builds them in
 * each style): loadTokenizer's ids equal what transformers.js's own AutoTokenizer gives for the
 * same directory (its file loading, tokenizer_config.json and post_processor included), and what
 * @huggingface/tokenizers gives; SentencePiece's byte fallback and the BOS prefix by hand.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { loadTokenizer, type LoadedTokenizer } from '../src/tokenizer/load.js';
import { encodePrompt } from '../src/data/encode.js';
import { writeLlama2Tokenizer, writeLlama3Tokenizer, writeQwen2Tokenizer } from './helpers/hf-tokenizers.js';

const CORPUS = ['the cat and the dog', 'Remove every even number from 12, 7, 345 and 8.', 'Output: 7, 345', "It's what they'll say"];
const TEXTS = ['the cat and the dog', 'the café ☃ 12345', "Output: 7, 345\n\nThey'LL go", ' leading and  double  spaces'];

function tmp(t: { after: (f: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), 'colora-tok-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return join(root, 'model');
}

/** transformers.js loading the directory itself, offline. */
async function autoTokenizer(dir: string) {
  const hf = await import('@huggingface/transformers');
  hf.env.allowRemoteModels = false;
  hf.env.localModelPath = dirname(dir);
  return hf.AutoTokenizer.from_pretrained(basename(dir), { local_files_only: true });
}

async function both(dir: string): Promise<[LoadedTokenizer, LoadedTokenizer]> {
  const a = await loadTokenizer(dir, { engine: 'transformers' });
  const b = await loadTokenizer(dir, { engine: 'tokenizers' });
  assert.ok(a && b);
  return [a, b];
}

/** Our ids (prefix + plain) against AutoTokenizer's encode with special tokens, and the two engines against each other. */
async function sameAsLibrary(dir: string): Promise<LoadedTokenizer> {
  const [ours, other] = await both(dir);
  const auto = await autoTokenizer(dir);
  for (const text of TEXTS) {
    const ids = [...(ours.prefixIds ?? []), ...ours.encode(text)];
    assert.deepEqual(ids, auto.encode(text), `AutoTokenizer on ${JSON.stringify(text)}`);
    assert.deepEqual(other.encode(text), ours.encode(text), `@huggingface/tokenizers on ${JSON.stringify(text)}`);
    assert.equal(ours.decode(ours.encode(text)), auto.decode(auto.encode(text, { add_special_tokens: false })));
  }
  assert.deepEqual(other.prefixIds, ours.prefixIds);
  return ours;
}

test('Llama 2 / Mistral style: SentencePiece BPE with byte fallback, BOS from add_bos_token', async (t) => {
  const dir = tmp(t);
  writeLlama2Tokenizer(dir);
  const tok = await sameAsLibrary(dir);
  // ▁the ▁cat ▁and ▁the ▁dog (pieces from id 259), and é → <0xC3> <0xA9> (ids 3 + byte).
  assert.deepEqual(tok.encode('the cat and the dog'), [272, 275, 279, 272, 282]);
  assert.deepEqual(tok.encode('café'), [273, 263, 265, 3 + 0xc3, 3 + 0xa9]);
  assert.equal(tok.decode(tok.encode('the café')), 'the café');
  assert.deepEqual(tok.prefixIds, [1]);
  assert.deepEqual([tok.bosTokenId, tok.eosTokenId, tok.padTokenId], [1, 2, 2]);
  assert.deepEqual(encodePrompt(tok, 'the dog', 16), [1, 272, 282]);

  const off = tmp(t);
  writeLlama2Tokenizer(off, false);
  const noBos = (await loadTokenizer(off))!;
  assert.deepEqual(noBos.prefixIds, [], 'add_bos_token: false wins over the post_processor');
});

test('Llama 3 style: byte-level BPE, <|begin_of_text|> from the post_processor, special tokens in text', async (t) => {
  const dir = tmp(t);
  writeLlama3Tokenizer(dir, CORPUS);
  const tok = await sameAsLibrary(dir);
  assert.deepEqual(tok.prefixIds, [0]);
  assert.deepEqual([tok.bosTokenId, tok.eosTokenId], [0, 1]);
  assert.deepEqual(tok.encode('a<|eot_id|>b').filter((id) => id < 3), [2], 'special token text is that one token');
  // \p{N}{1,3}: 12345 is two pre-tokens, 123 and 45.
  assert.equal(tok.decode(tok.encode('12345')), '12345');
});

test('Qwen2 style: byte-level BPE, no BOS, <|endoftext|> as EOS and padding', async (t) => {
  const dir = tmp(t);
  writeQwen2Tokenizer(dir, CORPUS);
  const tok = await sameAsLibrary(dir);
  assert.deepEqual(tok.prefixIds, []);
  assert.equal(tok.bosTokenId, undefined);
  assert.deepEqual([tok.eosTokenId, tok.padTokenId], [0, 0]);
});
