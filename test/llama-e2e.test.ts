/**
 * A sweep on a Llama-family model directory, run as a user would (`colora sweep`), from a config
 * whose only model-specific line is `model:` (no adapter.targets: PEFT's default q_proj, v_proj
 * apply). Every method trains and is evaluated; the adapters are PEFT's Llama layout; CoLoRA's
 * merged export is the exact factors' adapter; `colora generate` decodes with it, BOS first.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { parse } from 'yaml';
import { loadModel } from '../src/model/families.js';
import { applyAdapterDir, loadAdapter } from '../src/adapters/peft-io.js';
import { mergePersonal } from '../src/adapters/state.js';
import { readJsonl, readResultsCsv } from '../src/experiment/results-files.js';
import type { RoundLog } from '../src/experiment/records.js';
import { readSafetensors } from '../src/model/safetensors.js';
import { REPO_ROOT } from './helpers/shared.js';
import { makeTinyLlamaDir } from './helpers/tiny-llama.js';
import { tempDir } from './helpers/temp.js';

const METHODS = ['base', 'local', 'fedavg', 'colora', 'centralized', 'ffa', 'fedsa', 'flexlora', 'fedex', 'feddpa'];

function colora(args: string[]) {
  return spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'colora'), ...args], { encoding: 'utf8', env: { ...process.env, COLORA_DEBUG: '' } });
}

test('colora sweep on a tiny Llama with only model: changed: every method, PEFT adapters, generate with an adapter', async (t) => {
  const model = makeTinyLlamaDir();
  const work = tempDir('colora-llama-e2e-');
  t.after(() => {
    rmSync(model, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });
  const config = join(work, 'sweep.yaml');
  writeFileSync(
    config,
    `name: llama-e2e
model: ${model}
backend: cpu
data: { tasks_dir: builtin, train_per_task: 8, test_per_task: 3, max_source_tokens: 160, max_target_tokens: 8 }
adapter: { rank: 4, alpha: 8 }
methods: [${METHODS.join(', ')}]
train: { rounds: 2, local_steps: 2, batch_size: 4, lr: 0.01 }
eval: { max_new_tokens: 5, batch_size: 8 }
sweep:
  seeds: [1]
  groupings:
    - name: pair
      clients:
        - { name: a, tasks: [task205_remove_even_elements] }
        - { name: b, tasks: [task369_synthetic_remove_odds] }
expect:
  - { no_nan_loss: true }
`,
  );
  const out = join(work, 'out');
  const r = colora(['sweep', '--config', config, '--out', out, '--quiet']);
  assert.equal(r.status, 0, r.stderr);

  const resolved = parse(readFileSync(join(out, 'config.resolved.yaml'), 'utf8'));
  assert.deepEqual(resolved.adapter.targets, ['self_attn.q_proj', 'self_attn.v_proj']);
  const rows = readResultsCsv(join(out, 'results.csv'));
  assert.deepEqual([...new Set(rows.map((x) => x.method))].sort(), [...METHODS].sort());
  assert.equal(rows.length, METHODS.length * 2);
  assert.ok(rows.every((x) => x.n_test === 3 && x.rougeL >= 0 && x.rougeL <= 100), JSON.stringify(rows));
  const log = readJsonl<RoundLog>(join(out, 'log.jsonl'));
  assert.ok(log.length > 0 && log.every((l) => Number.isFinite(l.loss_mean)));

  // PEFT's layout for LlamaForCausalLM: base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight.
  const dirOf = (method: string, client: string) => join(out, 'cells', 'pair', 'seed-1', method, 'adapters', client);
  const adapterDir = dirOf('colora', 'a');
  const cfg = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8'));
  assert.deepEqual([cfg.target_modules, cfg.fan_in_fan_out, cfg.r], [['self_attn.q_proj', 'self_attn.v_proj'], false, 4]);
  const merged = readSafetensors(join(adapterDir, 'adapter_model.safetensors'));
  const key = (l: number, m: string, f: string) => `base_model.model.model.layers.${l}.self_attn.${m}.lora_${f}.weight`;
  assert.deepEqual([...merged.keys()].sort(), [0, 1].flatMap((l) => ['q_proj', 'v_proj'].flatMap((m) => [key(l, m, 'A'), key(l, m, 'B')])).sort());
  assert.deepEqual(merged.get(key(0, 'q_proj', 'A'))!.shape, [4, 32]);
  assert.deepEqual(merged.get(key(0, 'v_proj', 'B'))!.shape, [16, 4], 'v_proj writes the 2 kv heads of 8');
  // The merged lora_B is B·S of the exact factors (what PEFT then computes).
  const exact = loadAdapter(adapterDir);
  const f = exact.state.get('layers.1.self_attn.v_proj')!;
  assert.deepEqual(merged.get(key(1, 'v_proj', 'B'))!.data, mergePersonal(f.B, f.S!, 4));
  // FedEx's residual is written with the family's keys ([out, in]) and reloads with its adapter.
  const residual = readSafetensors(join(dirOf('fedex', 'b'), 'colora_residual.safetensors'));
  assert.deepEqual(residual.get('base_model.model.model.layers.1.self_attn.v_proj.residual.weight')!.shape, [16, 32]);
  assert.equal(loadAdapter(dirOf('fedex', 'b')).state.get('layers.1.self_attn.v_proj')!.R!.length, 16 * 32);

  // What PEFT loads (adapter_config.json + adapter_model.safetensors alone) computes what the exact factors do.
  const mergedOnly = join(work, 'merged-only');
  mkdirSync(mergedOnly);
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) copyFileSync(join(adapterDir, f), join(mergedOnly, f));
  await tf.setBackend('cpu');
  const { model: lm } = loadModel(model);
  const ids = tf.tensor2d([[0, 5, 9, 30, 7, 2]], undefined, 'int32');
  const logitsWith = (dir: string) => {
    const a = applyAdapterDir(lm, dir);
    const l = lm.forward(ids).dataSync().slice();
    a.remove();
    return l;
  };
  const [viaExact, viaMerged, plain] = [logitsWith(adapterDir), logitsWith(mergedOnly), lm.forward(ids).dataSync()];
  assert.ok(viaExact.some((v, i) => Math.abs(v - plain[i]) > 1e-4), 'the trained adapter changes the logits');
  assert.ok(viaExact.every((v, i) => Math.abs(v - viaMerged[i]) < 1e-5), 'merged export = exact factors');
  lm.dispose();

  const g = colora(['generate', '--model', model, '--adapter', adapterDir, '--prompt', 'Remove every even number', '--max-new-tokens', '3', '--json', '--backend', 'cpu']);
  assert.equal(g.status, 0, g.stderr);
  const res = JSON.parse(g.stdout);
  assert.equal(res.input_ids[0], 0, 'the prompt starts with <|begin_of_text|>');
  assert.ok(res.output_ids.length >= 1 && res.output_ids.length <= 3);
});
