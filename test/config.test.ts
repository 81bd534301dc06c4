import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { YamlSource } from '../src/config/yaml-source.js';
import { parseExperimentConfig } from '../src/config/load.js';
import { closest } from '../src/config/suggest.js';
import { UsageError } from '../src/util/errors.js';
import { tempDir } from './helpers/temp.js';

const MINIMAL = `name: smoke
seed: 0
model: builtin:tiny-ni
data:
  tasks_dir: builtin
  train_per_task: 64
  test_per_task: 50
  prompt: { definition: true, positive_examples: 0 }
  max_source_tokens: 256
  max_target_tokens: 32
clients:
  - { name: c1, tasks: [task205_remove_even_elements] }
  - { name: c2, tasks: [task369_synthetic_remove_odds] }
adapter: { rank: 8, alpha: 16, targets: [attn.c_attn] }
methods: [local, fedavg, colora]
train: { rounds: 10, local_steps: 10, batch_size: 8, lr: 0.001, optimizer: adamw }
eval: { max_new_tokens: 32 }
`;

function parse(text: string) {
  return parseExperimentConfig(YamlSource.parse('exp.yaml', text));
}

function expectError(text: string, ...patterns: RegExp[]): void {
  assert.throws(
    () => parse(text),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, `expected UsageError, got ${e}`);
      assert.equal(e.exitCode, 2);
      assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
}

test("the contract's minimal config parses, with defaults filled", () => {
  const c = parse(MINIMAL);
  assert.equal(c.name, 'smoke');
  assert.equal(c.clients?.length, 2);
  assert.equal(c.train.grad_clip, 1);
  assert.equal(c.train.client_fraction, 1);
  assert.equal(c.backend, 'auto');
  assert.deepEqual(c.expect, []);
  assert.equal(c.eval.batch_size, 16);
});

test('an almost empty config gets every default (clients still required)', () => {
  const c = parse('clients: [{ name: a, tasks: [t1] }]\n');
  assert.equal(c.model, 'builtin:tiny-ni');
  assert.equal(c.data.tasks_dir, 'builtin');
  assert.equal(c.data.prompt.definition, true);
  assert.deepEqual(c.methods, ['local', 'fedavg', 'colora']);
  expectError('name: x\n', /exp\.yaml/, /needs 'clients'/);
});

test('unknown key: names file, line, key path and suggests the closest key', () => {
  const text = MINIMAL.replace('  train_per_task: 64', '  train_per_tsk: 64');
  expectError(text, /^exp\.yaml:6: data\.train_per_tsk: unknown key 'train_per_tsk'/, /did you mean 'train_per_task'/);
  expectError(MINIMAL + 'sed: 1\n', /exp\.yaml:18: sed: unknown key/, /did you mean 'seed'/);
});

test('wrong types and values name the key path, the line and what was expected', () => {
  expectError(MINIMAL.replace('rank: 8', "rank: 'eight'"), /exp\.yaml:14: adapter\.rank: expected number, got string "eight"/);
  expectError(MINIMAL.replace('lr: 0.001', 'lr: -1'), /exp\.yaml:16: train\.lr: .*got number -1/);
  expectError(MINIMAL.replace('optimizer: adamw', 'optimizer: adamx'), /train\.optimizer: expected one of "adamw", "schedule_free_adamw"/, /did you mean 'adamw'/);
  expectError(MINIMAL.replace('methods: [local, fedavg, colora]', 'methods: [local, fedavgg]'), /methods\[1\]: expected one of/, /did you mean 'fedavg'/);
  expectError(MINIMAL.replace('targets: [attn.c_attn]', 'targets: [attn.q_proj]'), /adapter\.targets\[0\]/);
  expectError(MINIMAL.replace('  - { name: c2, tasks: [task369_synthetic_remove_odds] }\n', '  - { name: c2 }\n'), /exp\.yaml:13: clients\[1\]\.tasks: missing; expected array/);
});

test('cross-field errors: duplicate clients, expect rules naming unknown methods', () => {
  expectError(MINIMAL.replace('name: c2', 'name: c1'), /exp\.yaml:13: clients\[1\]\.name: duplicate client name 'c1'/);
  expectError(MINIMAL + 'expect:\n  - { method: ffa, metric: rougeL, min: 10 }\n', /expect\[0\]\.method: method 'ffa' is not in methods/);
  expectError(MINIMAL + 'expect:\n  - { method: colora }\n', /expect\[0\]: a rule needs/);
});

test('invalid YAML is one line with the line number', () => {
  expectError('name: [unclosed\nseed: 1\n', /^exp\.yaml:\d+: invalid YAML/);
  expectError('a: 1\na: 2\n', /^exp\.yaml:2: invalid YAML/);
});

test('missing config file and directory are errors naming the path', () => {
  assert.throws(() => YamlSource.read('/nonexistent/x.yaml'), /\/nonexistent\/x\.yaml: config file not found/);
  const dir = tempDir('colora-cfg-');
  assert.throws(() => YamlSource.read(dir), /expected a YAML config file, found a directory/);
  writeFileSync(join(dir, 'a.yaml'), 'clients: [{name: a, tasks: [t]}]\n');
  assert.ok(YamlSource.read(join(dir, 'a.yaml')).value());
});

test('closest-key suggestions are typo-like, not arbitrary', () => {
  assert.equal(closest('lokal', ['local', 'fedavg', 'colora']), 'local');
  assert.equal(closest('zzzzzz', ['local', 'fedavg', 'colora']), undefined);
});

test('sweep configs: clients come from groupings; seeds distinct', () => {
  const sweep = MINIMAL.replace(/clients:\n(  - .*\n)+/, '') +
    'sweep:\n  groupings:\n    - name: similar\n      clients: [{ name: a, tasks: [t1] }]\n  seeds: [0, 1]\n';
  const c = parse(sweep);
  assert.equal(c.clients, undefined);
  assert.deepEqual(c.sweep?.seeds, [0, 1]);
  expectError(sweep.replace('seeds: [0, 1]', 'seeds: [1, 1]'), /sweep\.seeds: seeds must be distinct/);
});
