/**
 * The family registry as the config sees it: adapter.targets default to the model family's PEFT
 * targets (GPT-2's unchanged), a target of another family is exit 2 at its key path, and an
 * unknown model_type is exit 2 at `model:` naming the supported ones.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadExperimentConfig } from '../src/config/load.js';
import { FAMILIES, supportedModelTypes } from '../src/model/families.js';
import { UsageError } from '../src/util/errors.js';
import { REPO_ROOT } from './helpers/shared.js';

const LLAMA = join(REPO_ROOT, 'test', 'fixtures', 'llama-family', 'tied');
const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

function config(t: { after: (f: () => void) => void }, model: string, adapter: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'colora-fam-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'exp.yaml');
  writeFileSync(file, `model: ${model}\nclients: [{ name: a, tasks: [task205_remove_even_elements] }]\ndata: { train_per_task: 8, test_per_task: 4 }\nadapter: ${adapter}\n`);
  return file;
}

test('adapter.targets: the family default when absent, checked against the family when given', (t) => {
  assert.deepEqual(loadExperimentConfig(config(t, 'builtin:tiny-ni', '{ rank: 4 }')).config.adapter.targets, ['attn.c_attn']);
  assert.deepEqual(loadExperimentConfig(config(t, LLAMA, '{ rank: 4 }')).config.adapter.targets, ['self_attn.q_proj', 'self_attn.v_proj']);
  const all = '[self_attn.q_proj, self_attn.k_proj, self_attn.v_proj, self_attn.o_proj, mlp.gate_proj, mlp.up_proj, mlp.down_proj]';
  assert.equal(loadExperimentConfig(config(t, LLAMA, `{ targets: ${all} }`)).config.adapter.targets?.length, 7);
  // PEFT's bare names (suffix match) are accepted as PEFT accepts them.
  assert.deepEqual(loadExperimentConfig(config(t, LLAMA, '{ targets: [q_proj, down_proj] }')).config.adapter.targets, ['q_proj', 'down_proj']);
  assert.throws(
    () => loadExperimentConfig(config(t, LLAMA, '{ targets: [self_attn.q_proj, attn.c_attn] }')),
    usage(/exp\.yaml:4: adapter\.targets\[1\]: 'attn\.c_attn' is no linear layer of .*tied \(a llama-family model\); expected one of self_attn\.q_proj/),
  );
  assert.throws(() => loadExperimentConfig(config(t, 'builtin:tiny-ni', '{ targets: [mlp.up_proj] }')), usage(/adapter\.targets\[0\]: 'mlp\.up_proj' is no linear layer of builtin:tiny-ni \(a gpt2-family model\)/));
});

test('an unknown model_type is exit 2 at model: naming it and the supported ones', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'colora-fam-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(LLAMA, dir, { recursive: true });
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...c, model_type: 'gemma' }));
  assert.throws(() => loadExperimentConfig(config(t, dir, '{ rank: 4 }')), usage(/exp\.yaml:1: model: .*model_type: expected one of "gpt2", "llama", "mistral", "qwen2".*got "gemma"/));
  assert.deepEqual(supportedModelTypes(), ['gpt2', 'llama', 'mistral', 'qwen2']);
});

test('every family names PEFT defaults among its own targets and a distinct PEFT prefix', () => {
  for (const f of FAMILIES) for (const d of f.defaultTargets) assert.ok(f.targetModules.includes(d), `${f.name}: ${d}`);
  assert.equal(new Set(FAMILIES.map((f) => f.peft.keyPrefix)).size, FAMILIES.length);
});
