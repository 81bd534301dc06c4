import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigFields, checkImpliedParams } from '../src/model/config-fields.js';
import { gpt2ConfigToJson, loadGPT2Config, parseGPT2Config, type GPT2Config } from '../src/model/config.js';
import { UsageError } from '../src/util/errors.js';

const TINY: GPT2Config = {
  vocabSize: 20, nPositions: 12, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32,
  activation: 'gelu_new', layerNormEpsilon: 1e-5, eosTokenId: 0, bosTokenId: 0, tieWordEmbeddings: true,
};
const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n');

test('config fields: sizes are bounded integers (n_layer 1e30 is refused before anything is sized by it)', () => {
  const ok = gpt2ConfigToJson(TINY);
  assert.throws(() => parseGPT2Config({ ...ok, n_layer: 1e30 }, 'c.json'), usage(/^c\.json: n_layer: 1e\+30 is over the limit of 1024$/));
  assert.throws(() => parseGPT2Config({ ...ok, vocab_size: 2 ** 40 }, 'c.json'), usage(/vocab_size: .* over the limit/));
  assert.throws(() => parseGPT2Config({ ...ok, n_embd: 0 }, 'c.json'), usage(/n_embd: expected a positive integer, got 0/));
  assert.throws(() => parseGPT2Config({ ...ok, n_positions: '64' }, 'c.json'), usage(/n_positions: expected a positive integer, got "64"/));
  assert.throws(() => parseGPT2Config({ ...ok, n_inner: -4 }, 'c.json'), usage(/n_inner: expected a positive integer/));
});

test('config fields: token ids are integers in [0, vocab_size), also inside lists', () => {
  const ok = gpt2ConfigToJson(TINY);
  assert.throws(() => parseGPT2Config({ ...ok, eos_token_id: -1 }, 'c.json'), usage(/^c\.json: eos_token_id: token id -1 is outside \[0, 20\)/));
  assert.throws(() => parseGPT2Config({ ...ok, eos_token_id: [3, -1] }, 'c.json'), usage(/eos_token_id\[1\]: token id -1 is outside/));
  assert.throws(() => parseGPT2Config({ ...ok, bos_token_id: 20 }, 'c.json'), usage(/bos_token_id: token id 20 is outside \[0, 20\)/));
  assert.throws(() => parseGPT2Config({ ...ok, eos_token_id: [] }, 'c.json'), usage(/eos_token_id: expected a token id or a non-empty list/));
  assert.throws(() => parseGPT2Config({ ...ok, eos_token_id: 1.5 }, 'c.json'), usage(/eos_token_id: expected a token id/));
  assert.equal(parseGPT2Config({ ...ok, eos_token_id: [19, 3] }, 'c.json').eosTokenId, 19);
  assert.equal(parseGPT2Config({ ...ok, eos_token_id: null }, 'c.json').eosTokenId, undefined);
});

test('config fields: floats are finite and in range', () => {
  const ok = gpt2ConfigToJson(TINY);
  assert.throws(() => parseGPT2Config({ ...ok, layer_norm_epsilon: 0 }, 'c.json'), usage(/layer_norm_epsilon: expected a number in \(0, 1\], got 0/));
  assert.throws(() => parseGPT2Config({ ...ok, layer_norm_epsilon: 2 }, 'c.json'), usage(/layer_norm_epsilon: expected a number in \(0, 1\]/));
  assert.throws(() => parseGPT2Config({ ...ok, layer_norm_epsilon: 'tiny' }, 'c.json'), usage(/layer_norm_epsilon: expected a finite number/));
  const f = new ConfigFields('x.json', { rope_theta: 1e400, tie: 'yes' });
  assert.throws(() => f.float('rope_theta', { min: 0, exclusiveMin: true }), usage(/rope_theta: expected a finite number/));
  assert.throws(() => f.bool('tie', true), usage(/tie: expected true or false, got "yes"/));
});

test('config fields: the implied parameter count is checked against the weight files', () => {
  assert.doesNotThrow(() => checkImpliedParams('c.json', [[2, 3], [4]], 10, 'w.safetensors'));
  assert.throws(() => checkImpliedParams('c.json', [[2, 3], [5]], 10, 'w.safetensors'), usage(/^c\.json: the config implies 11 parameters, but w\.safetensors declare only 10/));
});

test('config fields: config.json with invalid UTF-8, a BOM or not an object names the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'colora-cfgf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  writeFileSync(file, Buffer.concat([Buffer.from('{\n"model_type": "gpt2",\n"x": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]));
  assert.throws(() => loadGPT2Config(dir), usage(/config\.json:3: not valid UTF-8 \(byte 0xff/));
  writeFileSync(file, '\uFEFF{}');
  assert.throws(() => loadGPT2Config(dir), usage(/config\.json:1: starts with a UTF-8 byte-order mark/));
  writeFileSync(file, '[1, 2]');
  assert.throws(() => loadGPT2Config(dir), usage(/config\.json: expected a JSON object/));
});
