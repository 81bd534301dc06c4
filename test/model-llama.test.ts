/**
 * The Llama family against PyTorch: the checkpoints under test/fixtures/llama-family (made by
 * test/reference/llama_reference.py, whose forward pass matches the transformers-made
 * ../shared/fixtures/tiny-llama to 7.5e-6) in every shape the family varies in: tied head, BF16,
 * sharded with an eos list, Qwen2 q/k/v biases (with a sliding_window it must ignore), Llama
 * attention_bias + mlp_bias, head_dim ≠ hidden/heads with one kv head, llama3 and linear rope
 * scaling, Mistral. Logits within 1e-4, and greedy decoding (alone and left-padded in one batch,
 * through the KV cache) gives PyTorch's ids, on tfjs's cpu backend and on the fast engine.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { registerFastBackend } from '../src/engine/fast-backend.js';
import { loadModel, modelInfo } from '../src/model/families.js';
import { generate } from '../src/model/generate.js';
import { readSafetensors, writeSafetensors, type TensorData } from '../src/model/safetensors.js';
import { UsageError } from '../src/util/errors.js';
import { FAST_BACKEND } from './engine-helpers.js';
import { REPO_ROOT, sharedPath, skipUnlessShared } from './helpers/shared.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'llama-family');
const NAMES = readdirSync(FIXTURES).sort();
const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

interface Expected {
  input_ids: number[][];
  logits: number[][][];
  greedy: { prompts: number[][]; output_ids: number[][] };
}

async function useBackend(name: string): Promise<void> {
  if (name === FAST_BACKEND) registerFastBackend();
  assert.ok(await tf.setBackend(name));
}

function maxDiff(got: number[][][], want: number[][][]): number {
  let m = 0;
  got.forEach((s, b) => s.forEach((row, t) => row.forEach((v, i) => (m = Math.max(m, Math.abs(v - want[b][t][i]))))));
  return m;
}

for (const backend of ['cpu', FAST_BACKEND]) {
  test(`llama family on ${backend}: logits within 1e-4 of PyTorch and the same greedy ids`, async () => {
    await useBackend(backend);
    assert.ok(NAMES.length >= 9, `fixtures in ${FIXTURES}`);
    for (const name of NAMES) {
      const dir = join(FIXTURES, name);
      const exp = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
      const { model, family } = loadModel(dir);
      try {
        assert.equal(family.name, 'llama');
        const logits = tf.tidy(() => model.forward(tf.tensor2d(exp.input_ids, undefined, 'int32')).arraySync());
        const d = maxDiff(logits, exp.logits);
        assert.ok(d < 1e-4, `${name}: max |logit difference| ${d}`);
        const { prompts, output_ids } = exp.greedy;
        for (let i = 0; i < prompts.length; i++) {
          const alone = await generate(model, [prompts[i]], { maxNewTokens: 6 });
          assert.deepEqual(alone.outputIds[0], output_ids[i], `${name}: greedy ids of prompt ${i}`);
        }
        // Different lengths in one batch: left padding, per-row rotary positions, key mask.
        const batched = await generate(model, prompts, { maxNewTokens: 6 });
        assert.deepEqual(batched.outputIds, output_ids, `${name}: greedy ids, batched`);
      } finally {
        model.dispose();
      }
    }
  });
}

test('llama family: the transformers-made tiny-llama fixture within 1e-4', { skip: skipUnlessShared('fixtures/tiny-llama') }, async () => {
  await useBackend(FAST_BACKEND);
  const dir = sharedPath('fixtures/tiny-llama');
  const exp = JSON.parse(readFileSync(join(dir, 'expected_logits.json'), 'utf8')) as Expected;
  const { model } = loadModel(dir);
  const logits = tf.tidy(() => model.forward(tf.tensor2d(exp.input_ids, undefined, 'int32')).arraySync());
  model.dispose();
  const d = maxDiff(logits, exp.logits);
  assert.ok(d < 1e-4, `max |logit difference| ${d}`);
});

/** A copy of fixture `name` with its config.json edited, in a temp dir removed after the test. */
function variant(t: { after: (f: () => void) => void }, name: string, edit: (c: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'colora-llama-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  return dir;
}

test('llama family: config.json problems are exit 2 naming the key', (t) => {
  const unknown = variant(t, 'tied', (c) => (c.model_type = 'falcon'));
  assert.throws(() => modelInfo(unknown), usage(/config\.json: model_type: expected one of "gpt2", "llama", "mistral", "qwen2".*got "falcon"/));
  const untyped = variant(t, 'qwen2-bias', (c) => delete c.model_type);
  assert.throws(() => modelInfo(untyped), usage(/model_type: expected one of .*it is missing \(architectures names Qwen2ForCausalLM: add "model_type": "qwen2"\)/));
  const yarn = variant(t, 'tied', (c) => (c.rope_scaling = { rope_type: 'yarn', factor: 4 }));
  assert.throws(() => modelInfo(yarn), usage(/rope_scaling\.rope_type: expected one of default, linear, llama3.*got "yarn"/));
  const act = variant(t, 'tied', (c) => (c.hidden_act = 'gelu'));
  assert.throws(() => modelInfo(act), usage(/hidden_act: expected one of silu/));
  const heads = variant(t, 'tied', (c) => (c.num_key_value_heads = 3));
  assert.throws(() => modelInfo(heads), usage(/num_key_value_heads: num_attention_heads \(4\) must be divisible by num_key_value_heads \(3\)/));
  const eos = variant(t, 'sharded', (c) => (c.eos_token_id = [2, 480]));
  assert.throws(() => modelInfo(eos), usage(/eos_token_id\[1\]: token id 480 is outside \[0, 48\)/));
  assert.deepEqual(modelInfo(join(FIXTURES, 'sharded')).eosTokenIds, [2, 3]);
});

test('llama family: a missing tensor names it and the directory, a wrong shape names tensor and file', (t) => {
  /** The tied fixture with its tensors edited (same element count, so only names and shapes differ). */
  const edited = (edit: (m: Map<string, TensorData>) => void) => {
    const dir = variant(t, 'tied', () => {});
    const tensors: Map<string, TensorData> = readSafetensors(join(dir, 'model.safetensors'));
    edit(tensors);
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return dir;
  };
  const missing = edited((m) => {
    m.set('model.final_norm.weight', m.get('model.norm.weight')!);
    m.delete('model.norm.weight');
  });
  assert.throws(() => loadModel(missing), usage(new RegExp(`${missing}: missing tensor 'model\\.norm\\.weight' \\(or 'norm\\.weight'\\), expected shape \\[16\\]`)));
  const transposed = edited((m) => m.set('model.layers.1.self_attn.k_proj.weight', { shape: [16, 8], data: m.get('model.layers.1.self_attn.k_proj.weight')!.data }));
  assert.throws(() => loadModel(transposed), usage(/model\.safetensors: tensor 'model\.layers\.1\.self_attn\.k_proj\.weight' has shape \[16, 8\], expected \[8, 16\]/));
  // A config that asks for more weights than the files hold is refused before anything is read.
  const untied = variant(t, 'tied', (c) => (c.tie_word_embeddings = false));
  assert.throws(() => loadModel(untied), usage(/config\.json: the config implies 5456 parameters, but .*model\.safetensors declare only 4688/));
});

test('mistral: the sliding window bounds the context; a longer sequence is exit 2 saying so', async (t) => {
  await useBackend('cpu');
  const dir = variant(t, 'mistral', (c) => (c.sliding_window = 6));
  const { model } = loadModel(dir);
  try {
    assert.equal(model.info.contextLength, 6);
    assert.throws(() => model.forward(tf.tensor2d([[1, 2, 3, 4, 5, 6, 7]], undefined, 'int32')), usage(/mistral: the sequence has 7 positions, more than its sliding_window \(6\)/));
    // Generation stops at the window instead (prompt 4 + 2 = 6 positions).
    const out = await generate(model, [[1, 2, 3, 4]], { maxNewTokens: 6 });
    assert.equal(out.outputIds[0].length, 2);
  } finally {
    model.dispose();
  }
});
