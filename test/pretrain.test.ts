import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../src/engine/backend.js';
import { PretrainSchema } from '../src/train/pretrain-config.js';
import { pretrain } from '../src/train/pretrain.js';
import { loadGPT2 } from '../src/model/checkpoint.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { listBuiltinTasks } from '../src/data/builtin/registry.js';
import { tempDir } from './helpers/temp.js';

test('pretrain end to end: tokenizer, model, log with the induction probe, model card', async () => {
  await initBackend('cpu');
  const keep = ['builtin_reverse_list', 'builtin_sort_ascending'];
  const cfg = PretrainSchema.parse({
    name: 'test-tiny',
    data: { hold_out: listBuiltinTasks().map((t) => t.name).filter((n) => !keep.includes(n)), instances_per_task: 40, block_size: 64, repeat_fraction: 0.25 },
    tokenizer: { vocab_size: 320, corpus_examples: 80, numbers: 'groups3' },
    model: { n_layer: 1, n_embd: 32, n_head: 2, n_positions: 128 },
    train: { steps: 4, batch_size: 4, warmup_steps: 1, checkpoint_every: 2 },
    eval: { tasks: ['task205_remove_even_elements'], test_per_task: 2, max_new_tokens: 4 },
  });
  const out = tempDir('colora-pretrain-');
  const r = await pretrain(cfg, out, { quiet: true, backend: 'cpu' });
  assert.ok(Number.isFinite(r.finalLoss) && Number.isFinite(r.inductionLoss));
  assert.equal(r.zeroShot.length, 1);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'MODEL_CARD.md']) assert.ok(existsSync(join(out, f)), f);
  assert.ok(!existsSync(join(out, 'pretrain-checkpoint')), 'the checkpoint is removed at the end');
  const log = readFileSync(join(out, 'pretrain_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.filter((e) => 'induction_loss' in e).map((e) => e.step), [2, 4]);
  assert.match(readFileSync(join(out, 'MODEL_CARD.md'), 'utf8'), /Induction probe .* ln\(vocabulary\) = 5\.768/);
  // The directory is a loadable model with its tokenizer (numbers split in groups of three).
  const model = loadGPT2(out);
  assert.equal(model.config.nEmbd, 32);
  const tok = (await loadTokenizer(out))!;
  assert.equal(tok.vocabSize, 320);
  assert.match(readFileSync(join(out, 'tokenizer.json'), 'utf8'), /\\\\p\{N\}\{1,3\}/);
  model.dispose();
});
