import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpt2ConfigToJson, type GPT2Config } from '../src/model/config.js';
import { loadGPT2, resolveModelDir, saveGPT2 } from '../src/model/checkpoint.js';
import { GPT2 } from '../src/model/gpt2.js';
import { initGPT2Arrays } from '../src/model/init.js';
import { readSafetensors, readSafetensorsFile, writeSafetensors, type TensorData } from '../src/model/safetensors.js';
import { UsageError } from '../src/util/errors.js';
import { REPO_ROOT, sharedPath, skipUnlessShared } from './helpers/shared.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'colora-ckpt-'));
const TINY: GPT2Config = {
  vocabSize: 20, nPositions: 12, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32,
  activation: 'gelu_new', layerNormEpsilon: 1e-5, eosTokenId: 0, bosTokenId: 0, tieWordEmbeddings: true,
};
const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

/** A model directory with the given tensors (HF names, prefix added) and config. */
function modelDir(config: GPT2Config, edit?: (t: Map<string, TensorData>) => void): string {
  const dir = tmp();
  const t = new Map<string, TensorData>();
  for (const [name, a] of initGPT2Arrays(config, 1)) t.set(`transformer.${name}`, a);
  edit?.(t);
  writeSafetensors(join(dir, 'model.safetensors'), t, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2ConfigToJson(config)));
  return dir;
}

test('checkpoint: save then load gives the same weights, with HF key layout', async () => {
  const src = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 3));
  const dir = tmp();
  await saveGPT2(src, dir);
  const keys = [...readSafetensors(join(dir, 'model.safetensors')).keys()];
  assert.ok(keys.includes('transformer.h.1.attn.c_attn.weight') && keys.includes('transformer.wte.weight'));
  assert.ok(!keys.includes('lm_head.weight'), 'tied head is not stored');
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model_type, 'gpt2');
  const back = loadGPT2(dir);
  assert.deepEqual(back.config, TINY);
  for (const [name, t] of src.namedParams()) assert.deepEqual(back.namedParams().get(name)!.dataSync(), t.dataSync(), name);
  src.dispose();
  back.dispose();
});

test('checkpoint: an untied lm_head round-trips too', async () => {
  const config = { ...TINY, tieWordEmbeddings: false };
  const src = GPT2.fromArrays(config, initGPT2Arrays(config, 4));
  const dir = tmp();
  await saveGPT2(src, dir);
  assert.ok(readSafetensors(join(dir, 'model.safetensors')).has('lm_head.weight'));
  const back = loadGPT2(dir);
  assert.deepEqual(back.namedParams().get('lm_head.weight')!.dataSync(), src.namedParams().get('lm_head.weight')!.dataSync());
  src.dispose();
  back.dispose();
});

test('checkpoint: keys without the transformer. prefix load (GPT2Model layout)', () => {
  const dir = modelDir(TINY, (t) => {
    for (const [k, v] of [...t]) {
      t.delete(k);
      t.set(k.replace(/^transformer\./, ''), v);
    }
  });
  loadGPT2(dir).dispose();
});

test('checkpoint: missing tensor names the tensor, expected shape and directory', () => {
  const dir = modelDir(TINY, (t) => t.delete('transformer.h.1.mlp.c_fc.bias'));
  assert.throws(() => loadGPT2(dir), usage(new RegExp(`${dir}: missing tensor 'h\\.1\\.mlp\\.c_fc\\.bias'.*expected shape \\[32\\]`)));
});

test('checkpoint: wrong shape names tensor, actual and expected shape, and file', () => {
  const dir = modelDir(TINY, (t) => t.set('transformer.h.0.attn.c_attn.weight', { shape: [24, 8], data: new Float32Array(192) }));
  assert.throws(
    () => loadGPT2(dir),
    usage(/model\.safetensors: tensor 'transformer\.h\.0\.attn\.c_attn\.weight' has shape \[24, 8\], expected \[8, 24\]/),
  );
});

test('checkpoint: tied lm_head may be stored if equal to wte, not if different', () => {
  const equal = modelDir(TINY, (t) => t.set('lm_head.weight', t.get('transformer.wte.weight')!));
  loadGPT2(equal).dispose();
  const differs = modelDir(TINY, (t) => t.set('lm_head.weight', { shape: [20, 8], data: new Float32Array(160) }));
  assert.throws(() => loadGPT2(differs), usage(/'lm_head\.weight' differs from 'wte\.weight'/));
});

test('checkpoint: a directory without safetensors says so', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2ConfigToJson(TINY)));
  writeFileSync(join(dir, 'pytorch_model.bin'), '');
  assert.throws(() => loadGPT2(dir), usage(/model\.safetensors: not found \(the directory has pytorch_model\.bin/));
});

test('checkpoint: sharded checkpoints load through the index', () => {
  const dir = modelDir(TINY);
  const all = readSafetensors(join(dir, 'model.safetensors'));
  const names = [...all.keys()];
  const shards = [names.slice(0, 10), names.slice(10)];
  const weightMap: Record<string, string> = {};
  shards.forEach((s, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(join(dir, file), new Map(s.map((n) => [n, all.get(n)!])));
    for (const n of s) weightMap[n] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
  rmSync(join(dir, 'model.safetensors'));
  const m = loadGPT2(dir);
  assert.deepEqual(m.namedParams().get('wte.weight')!.dataSync(), all.get('transformer.wte.weight')!.data);
  m.dispose();
});

test('resolveModelDir: directories, builtin names and errors', () => {
  const dir = modelDir(TINY);
  assert.equal(resolveModelDir(dir), dir);
  const empty = tmp();
  assert.throws(() => resolveModelDir(empty), usage(/config\.json: not found/));
  assert.throws(() => resolveModelDir(join(empty, 'nope')), usage(/not a directory/));
  assert.throws(() => resolveModelDir('builtin:no-such-model'), usage(new RegExp(`no built-in model of that name in ${join(REPO_ROOT, 'models')}`)));
});

test('checkpoint: re-saving the HF-written fixture gives the same keys, shapes and values', { skip: skipUnlessShared('fixtures/tiny-gpt2') }, async () => {
  const model = loadGPT2(sharedPath('fixtures/tiny-gpt2'));
  const dir = tmp();
  await saveGPT2(model, dir);
  const ours = readSafetensorsFile(join(dir, 'model.safetensors'));
  const theirs = readSafetensorsFile(sharedPath('fixtures/tiny-gpt2/model.safetensors'));
  assert.deepEqual(ours.metadata, theirs.metadata);
  assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
  for (const [name, t] of theirs.tensors) assert.deepEqual(ours.tensors.get(name), t, name);
  model.dispose();
});
