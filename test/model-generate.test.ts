import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadGPT2 } from '../src/model/checkpoint.js';
import { generate } from '../src/model/generate.js';
import { generateCommand, type GenerateCommandOptions } from '../src/adapters/generate-command.js';
import type { GPT2 } from '../src/model/gpt2.js';
import { writeSafetensors } from '../src/model/safetensors.js';
import { UsageError } from '../src/util/errors.js';
import { sharedPath, skipUnlessShared } from './helpers/shared.js';

const FIXTURE = 'fixtures/tiny-gpt2';
const skip = skipUnlessShared(FIXTURE);
const PROMPTS = [[144, 157, 288, 97, 2, 172], [280], [5, 17, 200, 3, 99, 42, 7, 250, 11, 9, 81], [44, 224, 49]];

/** Greedy decoding the slow, obviously right way: a full forward over the whole sequence per token. */
function naiveGreedy(model: GPT2, prompt: number[], n: number): { ids: number[]; logprobs: number[] } {
  const seq = [...prompt];
  const ids: number[] = [];
  const logprobs: number[] = [];
  for (let i = 0; i < n; i++) {
    const lp = tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d([seq], undefined, 'int32')).gather([seq.length - 1], 1).reshape([-1])));
    const row = lp.dataSync();
    lp.dispose();
    const next = row.indexOf(Math.max(...row));
    ids.push(next);
    logprobs.push(row[next]);
    seq.push(next);
  }
  return { ids, logprobs };
}

function assertClose(a: number[], b: number[], tol: number, what: string) {
  assert.equal(a.length, b.length, what);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < tol, `${what}[${i}]: ${x} vs ${b[i]}`));
}

test('cached greedy generation equals naive full-recompute greedy decoding', { skip }, async () => {
  const model = loadGPT2(sharedPath(FIXTURE));
  for (const p of PROMPTS.slice(0, 2)) {
    const got = await generate(model, [p], { maxNewTokens: 6, ignoreEos: true });
    const want = naiveGreedy(model, p, 6);
    assert.deepEqual(got.outputIds[0], want.ids);
    assertClose(got.logprobs[0], want.logprobs, 1e-4, 'logprobs');
  }
  model.dispose();
});

test('a batch of prompts of different lengths equals generating each alone', { skip }, async () => {
  const model = loadGPT2(sharedPath(FIXTURE));
  const batched = await generate(model, PROMPTS, { maxNewTokens: 10, ignoreEos: true });
  for (let i = 0; i < PROMPTS.length; i++) {
    const alone = await generate(model, [PROMPTS[i]], { maxNewTokens: 10, ignoreEos: true });
    assert.equal(batched.outputIds[i].length, 10);
    assert.deepEqual(batched.outputIds[i], alone.outputIds[0], `row ${i}`);
    assertClose(batched.logprobs[i], alone.logprobs[0], 1e-4, `row ${i} logprobs`);
    assert.ok(batched.logprobs[i].every((l) => l <= 0));
  }
  model.dispose();
});

test('a row stops after EOS (included), the others go on unchanged', { skip }, async () => {
  const model = loadGPT2(sharedPath(FIXTURE));
  const free = await generate(model, PROMPTS, { maxNewTokens: 8, ignoreEos: true });
  // Row 0's fifth token as the EOS: row 0 stops there (mid-batch); rows that never emit it are unaffected.
  const eos = free.outputIds[0][4];
  const stopped = await generate(model, PROMPTS, { maxNewTokens: 8, eosId: eos });
  PROMPTS.forEach((_, i) => {
    const cut = free.outputIds[i].indexOf(eos);
    const want = cut < 0 ? free.outputIds[i] : free.outputIds[i].slice(0, cut + 1);
    assert.deepEqual(stopped.outputIds[i], want, `row ${i}`);
    assertClose(stopped.logprobs[i], free.logprobs[i].slice(0, want.length), 1e-4, `row ${i} logprobs`);
  });
  assert.equal(stopped.outputIds[0].length, free.outputIds[0].indexOf(eos) + 1);
  assert.ok(stopped.outputIds.some((o) => o.length === 8), 'some row runs on after row 0 stops');
  // ignoreEos overrides eosId.
  assert.deepEqual((await generate(model, PROMPTS, { maxNewTokens: 8, eosId: eos, ignoreEos: true })).outputIds, free.outputIds);
  model.dispose();
});

test('output stops at n_positions; bad prompts are UsageErrors', { skip }, async () => {
  const model = loadGPT2(sharedPath(FIXTURE)); // n_positions 64
  const long = Array.from({ length: 61 }, (_, i) => (i * 7) % 300);
  const r = await generate(model, [long, [1, 2]], { maxNewTokens: 10, ignoreEos: true });
  assert.equal(r.outputIds[0].length, 3);
  assert.equal(r.outputIds[1].length, 10);
  await assert.rejects(generate(model, [[]], { maxNewTokens: 1 }), UsageError);
  await assert.rejects(generate(model, [[1, 300]], { maxNewTokens: 1 }), /token id 300, outside the vocabulary \[0, 299\]/);
  await assert.rejects(generate(model, [new Array(65).fill(1)], { maxNewTokens: 1 }), /more than the model's context length \(64\)/);
  model.dispose();
});

test('generation leaks no tensors', { skip }, async () => {
  const model = loadGPT2(sharedPath(FIXTURE));
  await generate(model, PROMPTS, { maxNewTokens: 5, ignoreEos: true });
  const before = tf.memory().numTensors;
  await generate(model, PROMPTS, { maxNewTokens: 12, ignoreEos: true });
  await generate(model, PROMPTS.slice(1), { maxNewTokens: 3, eosId: 0 });
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

/** Run generateCommand and return what it printed on stdout. */
async function runCommand(opts: Partial<GenerateCommandOptions>): Promise<string> {
  let out = '';
  await generateCommand({ model: sharedPath(FIXTURE), ...opts }, (s) => (out += s));
  return out;
}

test('colora generate --input-ids --json', { skip }, async () => {
  const expected = JSON.parse(readFileSync(sharedPath(`${FIXTURE}/expected_logits.json`), 'utf8'));
  const prompt: number[] = expected.input_ids[0];
  const opts = { inputIds: prompt.join(','), json: true, maxNewTokens: 5, ignoreEos: true };
  const first = await runCommand(opts);
  const obj = JSON.parse(first);
  assert.deepEqual(Object.keys(obj), ['input_ids', 'output_ids', 'output_logprobs']); // no tokenizer → no text
  assert.deepEqual(obj.input_ids, prompt);
  assert.equal(obj.output_ids.length, 5);
  assert.equal(obj.output_logprobs.length, 5);
  assert.ok(obj.output_logprobs.every((l: number) => l <= 0));
  // The first token is the argmax of PyTorch's logits at the last prompt position.
  const last: number[] = expected.logits[0][prompt.length - 1];
  assert.equal(obj.output_ids[0], last.indexOf(Math.max(...last)));
  assert.equal(await runCommand(opts), first, 'deterministic');
  // Without --json: the ids, space-separated.
  assert.equal(await runCommand({ ...opts, json: false }), obj.output_ids.join(' ') + '\n');
});

test('colora generate: bad input is a UsageError', { skip }, async () => {
  const rejects = (opts: Partial<GenerateCommandOptions>, re: RegExp) =>
    assert.rejects(runCommand(opts), (e: unknown) => e instanceof UsageError && re.test(e.message));
  await rejects({}, /exactly one of --prompt TEXT or --input-ids/);
  await rejects({ prompt: 'hi', inputIds: '1' }, /exactly one of/);
  await rejects({ inputIds: '1,x,3' }, /--input-ids: 'x' is not a token id/);
  await rejects({ inputIds: '1,-2' }, /'-2' is not a token id/);
  await rejects({ inputIds: '' }, /--input-ids: expected comma-separated token ids/);
  await rejects({ inputIds: '1,300' }, /token id 300 is outside the model's vocabulary \[0, 299\]/);
  await rejects({ prompt: 'hello' }, /has no tokenizer; pass token ids with --input-ids/);
  await rejects({ inputIds: '1', model: '/nonexistent/model' }, /not a directory/);
});

/** A copy of the fixture model, optionally with a word-level tokenizer: token i is "w<i>", 0 is "<eos>". */
function fixtureCopy(withTokenizer: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'colora-gen-'));
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(sharedPath(`${FIXTURE}/${f}`), join(dir, f));
  if (withTokenizer) {
    const vocab: Record<string, number> = { '<eos>': 0 };
    for (let i = 1; i < 300; i++) vocab[`w${i}`] = i;
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({
      version: '1.0', truncation: null, padding: null, normalizer: null, post_processor: null, decoder: null,
      added_tokens: [{ id: 0, content: '<eos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      pre_tokenizer: { type: 'WhitespaceSplit' },
      model: { type: 'WordLevel', vocab, unk_token: '<eos>' },
    }));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<eos>' }));
  }
  return dir;
}

test('colora generate --prompt tokenizes, and the JSON has the text', { skip }, async () => {
  const model = fixtureCopy(true);
  const byIds = JSON.parse(await runCommand({ model, inputIds: '144,157,288', json: true, maxNewTokens: 4, ignoreEos: true }));
  const byText = JSON.parse(await runCommand({ model, prompt: 'w144 w157 w288', json: true, maxNewTokens: 4, ignoreEos: true }));
  assert.deepEqual(byText.input_ids, [144, 157, 288]);
  assert.deepEqual(byText.output_ids, byIds.output_ids);
  assert.equal(byText.text, byIds.output_ids.map((i: number) => `w${i}`).join(' '));
  assert.equal(await runCommand({ model, prompt: 'w144 w157 w288', maxNewTokens: 4, ignoreEos: true }), byText.text + '\n');
});

test('colora generate --adapter applies a PEFT LoRA adapter', { skip }, async () => {
  const model = fixtureCopy(false);
  const adapter = (bScale: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'colora-adapter-'));
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['c_attn'], fan_in_fan_out: true }));
    const A = Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i));
    const B = Float32Array.from({ length: 192 * 2 }, (_, i) => bScale * Math.cos(i));
    const pre = 'base_model.model.transformer.h.0.attn.c_attn';
    writeSafetensors(join(dir, 'adapter_model.safetensors'), { [`${pre}.lora_A.weight`]: { shape: [2, 64], data: A }, [`${pre}.lora_B.weight`]: { shape: [192, 2], data: B } });
    return dir;
  };
  const opts = { model, inputIds: '144,157,288', json: true, maxNewTokens: 4, ignoreEos: true };
  const base = JSON.parse(await runCommand(opts));
  const zero = JSON.parse(await runCommand({ ...opts, adapter: adapter(0) }));
  const some = JSON.parse(await runCommand({ ...opts, adapter: adapter(1) }));
  assert.deepEqual(zero, base, 'B = 0 (PEFT init): the adapter changes nothing');
  assert.notDeepEqual(some.output_logprobs, base.output_logprobs, 'a trained adapter changes the output');
});
