/**
 * Limits where a typo costs hours, refused (exit 2, with the numbers) or warned about by `check`
 * as by `train`/`sweep`; and the context length's cuts, said instead of silent.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadExperimentConfig, parseExperimentConfig } from '../src/config/load.js';
import { checkAgainstModel } from '../src/config/model-checks.js';
import { YamlSource } from '../src/config/yaml-source.js';
import { workload } from '../src/config/workload.js';
import { BUILTIN_MAX_INSTANCES } from '../src/data/task-source.js';
import { loadGPT2 } from '../src/model/checkpoint.js';
import { gpt2Family } from '../src/model/gpt2-family.js';
import { saveAdapter, applyAdapterDir } from '../src/adapters/peft-io.js';
import { initialState } from '../src/adapters/state.js';
import { targetedLinears } from '../src/adapters/inject.js';
import { runExperiment } from '../src/experiment/run-experiment.js';
import { evalCommand } from '../src/experiment/eval-command.js';
import { readJsonl, readResultsCsv } from '../src/experiment/results-files.js';
import { UsageError } from '../src/util/errors.js';
import { REPO_ROOT } from './helpers/shared.js';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { tempDir } from './helpers/temp.js';

let modelDir = '';
let shortModelDir = ''; // 64 positions
let dir = '';
before(async () => {
  modelDir = await makeTinyModelDir();
  shortModelDir = await makeTinyModelDir({ nPositions: 64 });
  dir = tempDir('colora-limits-');
});

function config(body: string, model = modelDir): string {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `model: ${model}\nclients: [{ name: a, tasks: [task205_remove_even_elements] }, { name: b, tasks: [task369_synthetic_remove_odds] }]\n${body}`);
  return file;
}

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

function colora(...args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'colora'), ...args], { encoding: 'utf8', env: { ...process.env, COLORA_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('built-in tasks supply at most 6,500 instances: test_per_task 100000 is exit 2 at check, with the numbers', () => {
  assert.equal(BUILTIN_MAX_INSTANCES, 6500);
  const file = config('data: { train_per_task: 64, test_per_task: 100000 }\n');
  usageError(() => loadExperimentConfig(file), /built-in task task205_remove_even_elements supplies at most 6500 instances, but train_per_task \+ test_per_task = 64 \+ 100000 = 100064 are needed/);
  const r = colora('check', '--config', file);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /supplies at most 6500 instances/);
});

test('a config within the supply but with many evaluations is warned about, with the count (check prints it on stderr)', () => {
  const file = config('data: { train_per_task: 8, test_per_task: 6000 }\nmethods: [base, local, colora]\n');
  const loaded = loadExperimentConfig(file);
  assert.deepEqual(workload(loaded.config), { cells: 3, evaluations: 3 * 2 * 6000, trainSteps: 2 * 10 * 10 * 2 });
  assert.equal(loaded.warnings.length, 1);
  assert.match(loaded.warnings[0], /evaluates 36,000 test instances \(3 runs × data\.test_per_task 6000 per task/);
  const r = colora('check', '--config', file);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^colora: warning: this config evaluates 36,000 test instances/);
  // eval.max_instances caps the count, and the warning goes.
  assert.deepEqual(loadExperimentConfig(config('data: { train_per_task: 8, test_per_task: 6000 }\neval: { max_instances: 50 }\n')).warnings, []);
});

test('adapter.rank larger than a targeted layer\'s width is exit 2 naming the layer and min(in, out)', () => {
  // The tiny model: n_embd 32, so attn.c_attn is 32 → 96 and mlp.c_proj 128 → 32.
  usageError(() => loadExperimentConfig(config('adapter: { rank: 33, targets: [attn.c_attn] }\n')), /:\d+: adapter\.rank: 33 is larger than the width of targeted layer h\.0\.attn\.c_attn \(in 32, out 96: min 32\); a rank-r adapter needs r ≤ 32/);
  assert.doesNotThrow(() => loadExperimentConfig(config('adapter: { rank: 32, targets: [attn.c_attn] }\n')));
  // base alone trains no adapter: its rank does not matter.
  assert.doesNotThrow(() => loadExperimentConfig(config('adapter: { rank: 33 }\nmethods: [base]\n')));
});

test('adapter.targets that select no layer of the model are exit 2 naming them and listing the valid ones', () => {
  const file = config('adapter: { targets: [attn.c_attn] }\n');
  const src = YamlSource.read(file);
  const cfg = parseExperimentConfig(src);
  cfg.adapter.targets = ['attn.c_attn', 'self_attn.q_proj'] as never; // a Llama name on a GPT-2 (the schema lists GPT-2's)
  usageError(() => checkAgainstModel(src, cfg, modelDir), /adapter\.targets: "self_attn\.q_proj" matches no linear layer of .*; valid targets: attn\.c_attn, attn\.c_proj, mlp\.c_fc, mlp\.c_proj/);
});

test('data.max_target_tokens that leaves no room for a prompt is exit 2 at check (it was exit 1 when training began)', () => {
  usageError(() => loadExperimentConfig(config('data: { train_per_task: 8, test_per_task: 4, max_target_tokens: 60 }\n', shortModelDir)), /data\.max_target_tokens: 60 leaves 3 of the model's 64 positions for the prompt; it needs at least 8 \(at most 55\)/);
});

test('a loaded adapter whose target_modules select nothing, or miss its tensors, is exit 2 (generate --adapter)', () => {
  const model = loadGPT2(modelDir);
  try {
    const cfg = { rank: 2, alpha: 4, targets: ['attn.c_attn'], dropout: 0, personal: false };
    const adapterDir = tempDir('colora-adapter-');
    saveAdapter(adapterDir, cfg, initialState(targetedLinears(model, cfg.targets), 2, false, 0), 'tiny', gpt2Family.peft);
    const cfgFile = join(adapterDir, 'adapter_config.json');
    const peft = JSON.parse(readFileSync(cfgFile, 'utf8'));
    writeFileSync(cfgFile, JSON.stringify({ ...peft, target_modules: ['c_attn', 'q_proj', 'v_proj'] }));
    usageError(() => applyAdapterDir(model, adapterDir), /adapter_config\.json: target_modules: "q_proj", "v_proj" match no linear layer of the model; valid targets: attn\.c_attn, attn\.c_proj, mlp\.c_fc, mlp\.c_proj/);
    writeFileSync(cfgFile, JSON.stringify({ ...peft, target_modules: ['mlp.c_fc'] }));
    usageError(() => applyAdapterDir(model, adapterDir), /adapter holds tensors for layer h\.0\.attn\.c_attn, which target_modules \["mlp\.c_fc"\] do not select/);
    const r = colora('generate', '--model', modelDir, '--adapter', adapterDir, '--input-ids', '1,2,3');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /do not select/);
    writeFileSync(cfgFile, JSON.stringify({ ...peft, target_modules: ['c_attn'] }));
    applyAdapterDir(model, adapterDir).remove();
  } finally {
    model.dispose();
  }
});

test('generate --max-new-tokens beyond the context says on stderr where and why it stopped', () => {
  const r = colora('generate', '--model', shortModelDir, '--input-ids', '1,2,3', '--max-new-tokens', '1000000', '--ignore-eos', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).output_ids.length, 61);
  assert.match(r.stderr, /stopped after 61 of --max-new-tokens 1000000 new tokens: the prompt \(3 tokens\) and the output fill the model's context length \(64\)/);
  const within = colora('generate', '--model', shortModelDir, '--input-ids', '1,2,3', '--max-new-tokens', '5', '--ignore-eos');
  assert.doesNotMatch(within.stderr, /stopped after/);
});

test('evaluation counts the predictions the context length cut: results.csv n_cut, predictions.jsonl, summary.md', async () => {
  // 64 positions, prompts cut to 40 tokens, up to 40 new tokens: an output that does not end first hits the context.
  const file = config('data: { train_per_task: 8, test_per_task: 6, max_source_tokens: 40, max_target_tokens: 8 }\nmethods: [base]\neval: { max_new_tokens: 40 }\nbackend: cpu\n', shortModelDir);
  const out = join(dir, 'run');
  await runExperiment(loadExperimentConfig(file), { out, quiet: true });
  const rows = readResultsCsv(join(out, 'results.csv'));
  const preds = readJsonl<{ context_cut?: boolean; task: string }>(join(out, 'predictions.jsonl'));
  const cut = preds.filter((p) => p.context_cut).length;
  assert.ok(cut > 0, 'the random model runs into the context');
  assert.equal(rows.reduce((s, r) => s + (r.n_cut ?? -1), 0), cut);
  assert.match(readFileSync(join(out, 'results.csv'), 'utf8').split('\n')[0], /,n_test,n_cut(,|$)/);
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), new RegExp(`Predictions cut short by the model's context length, before the end-of-sequence token and eval\\.max_new_tokens: ${cut} of 12`));
});

test('eval --run refuses an adapter whose target_modules name a layer the model lacks', async () => {
  const file = config('data: { train_per_task: 4, test_per_task: 2 }\nmethods: [local]\ntrain: { rounds: 1, local_steps: 1, batch_size: 2 }\neval: { max_new_tokens: 2 }\nbackend: cpu\n');
  const out = join(dir, 'eval-run');
  await runExperiment(loadExperimentConfig(file), { out, quiet: true, evaluate: false });
  const cfgFile = join(out, 'methods', 'local', 'adapters', 'b', 'adapter_config.json');
  writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), target_modules: ['attn.c_attn', 'q_proj'] }));
  await assert.rejects(evalCommand({ run: out, quiet: true }), (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, /adapters\/b\/adapter_config\.json: target_modules: "q_proj" matches no linear layer of the model; valid targets: attn\.c_attn/);
    return true;
  });
});
