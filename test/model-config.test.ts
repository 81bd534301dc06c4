import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpt2ConfigToJson, loadGPT2Config, parseGPT2Config, type GPT2Config } from '../src/model/config.js';
import { UsageError } from '../src/util/errors.js';
import { sharedPath, skipUnlessShared } from './helpers/shared.js';

const TINY: GPT2Config = {
  vocabSize: 20, nPositions: 12, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32,
  activation: 'gelu_new', layerNormEpsilon: 1e-5, eosTokenId: 0, bosTokenId: 0, tieWordEmbeddings: true,
};
const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

test('config: the fixture parses, n_inner null means 4 * n_embd', { skip: skipUnlessShared('fixtures/tiny-gpt2') }, () => {
  const c = loadGPT2Config(sharedPath('fixtures/tiny-gpt2'));
  assert.deepEqual(c, {
    vocabSize: 300, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 4, nInner: 256,
    activation: 'gelu_new', layerNormEpsilon: 1e-5, bosTokenId: 0, eosTokenId: 0, tieWordEmbeddings: true,
  });
});

test('config: written config parses back to the same', () => {
  assert.deepEqual(parseGPT2Config(gpt2ConfigToJson(TINY), 'x.json'), TINY);
});

test('config: bad or missing keys are UsageErrors naming file and key', () => {
  const ok = gpt2ConfigToJson(TINY);
  const { n_head: _, ...noHead } = ok;
  assert.throws(() => parseGPT2Config(noHead, 'm/config.json'), usage(/^m\/config\.json: n_head: missing/));
  assert.throws(() => parseGPT2Config({ ...ok, n_embd: 7.5 }, 'c.json'), usage(/c\.json: n_embd: expected a positive integer, got 7\.5/));
  assert.throws(() => parseGPT2Config({ ...ok, n_head: 3 }, 'c.json'), usage(/c\.json: n_head: n_embd \(8\) must be divisible/));
  assert.throws(() => parseGPT2Config({ ...ok, activation_function: 'relu' }, 'c.json'), usage(/activation_function: expected one of gelu_new, gelu_pytorch_tanh .*"relu"/));
  assert.equal(parseGPT2Config({ ...ok, activation_function: 'gelu_pytorch_tanh' }, 'c.json').activation, 'gelu_pytorch_tanh');
  assert.equal(parseGPT2Config({ ...ok, eos_token_id: [5, 6] }, 'c.json').eosTokenId, 5);
});

test('config: a Llama model is rejected clearly', { skip: skipUnlessShared('fixtures/tiny-llama') }, () => {
  assert.throws(() => loadGPT2Config(sharedPath('fixtures/tiny-llama')), usage(/tiny-llama\/config\.json: model_type: expected "gpt2".*got "llama"/));
});

test('config: missing or broken config.json names the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'colora-cfg-'));
  assert.throws(() => loadGPT2Config(dir), usage(new RegExp(`${dir}/config\\.json: not found`)));
  writeFileSync(join(dir, 'config.json'), '{ nope');
  assert.throws(() => loadGPT2Config(dir), usage(/config\.json(:\d+)?: not valid JSON/));
});

