import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, sharedPath, skipUnlessShared } from './helpers/shared.js';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { tempDir } from './helpers/temp.js';

const BUILT = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const skip = existsSync(BUILT) ? false : `needs the built CLI (${BUILT}); run npm test`;
let dir = '';
let model = '';

before(async () => {
  dir = tempDir('colora-cli-');
  model = await makeTinyModelDir();
});

function colora(...args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'colora'), ...args], { encoding: 'utf8', env: { ...process.env, COLORA_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function expectUsageError(r: ReturnType<typeof colora>, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
}

const base = () => `model: ${model}\ndata: { tasks_dir: builtin, train_per_task: 8, test_per_task: 4 }\n`;

test('check: a good config prints the resolved config and exits 0', { skip }, () => {
  const r = colora('check', '--config', file('ok.yaml', base() + 'clients: [{ name: a, tasks: [task205_remove_even_elements] }]\n'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /train_per_task: 8/);
  assert.match(r.stdout, /methods:\n  - local\n  - fedavg\n  - colora/);
});

test('bad configs exit 2 with one line naming file, line, key and expectation', { skip }, () => {
  expectUsageError(colora('check', '--config', join(dir, 'missing.yaml')), /missing\.yaml: config file not found/);
  expectUsageError(colora('check', '--config', file('typo.yaml', base() + 'clients: [{ name: a, tasks: [task205_remove_even_elements] }]\ntrain: { local_step: 3 }\n')), /typo\.yaml:4: train\.local_step: unknown key 'local_step' \(did you mean 'local_steps'\?\)/);
  expectUsageError(colora('check', '--config', file('task.yaml', base() + 'clients:\n  - { name: a, tasks: [task205_remove_even_element] }\n')), /task\.yaml:4: clients\[0\]\.tasks\[0\]: unknown task 'task205_remove_even_element' in builtin \(did you mean 'task205_remove_even_elements'\?\)/);
  expectUsageError(colora('check', '--config', file('model.yaml', base().replace(model, '/nonexistent/model') + 'clients: [{ name: a, tasks: [task205_remove_even_elements] }]\n')), /model\.yaml:1: model: .*nonexistent/);
  expectUsageError(colora('train', '--config', file('type.yaml', base() + 'clients: [{ name: a, tasks: [task205_remove_even_elements] }]\ntrain: { lr: fast }\n')), /type\.yaml:4: train\.lr: expected number, got string "fast"/);
});

test('real NI data: too few instances names the file and the counts', { skip: skip || skipUnlessShared('natural-instructions/tasks') }, () => {
  const cfg = file('ni.yaml', `model: ${model}\ndata: { tasks_dir: ${sharedPath('natural-instructions/tasks')}, train_per_task: 64, test_per_task: 50 }\nclients: [{ name: a, tasks: [task064_all_elements_except_first_i] }]\n`);
  expectUsageError(colora('check', '--config', cfg), /task064_all_elements_except_first_i\.json: task task064_all_elements_except_first_i has 57 instances, but train_per_task \+ test_per_task = 64 \+ 50 = 114/);
});

test('bad input files and flags exit 2 with one line', { skip }, () => {
  expectUsageError(colora('score', '--input', file('bad.jsonl', '{"prediction": "a", "references": ["a"]}\nnot json\n')), /bad\.jsonl:2/);
  expectUsageError(colora('data', 'inspect', '--tasks-dir', 'builtin', '--task', 'task205_remove_evens'), /unknown built-in task 'task205_remove_evens' \(did you mean 'task205_remove_even_elements'\?\)/);
  expectUsageError(colora('data', 'inspect', '--tasks-dir', join(dir, 'nope')), /data\.tasks_dir: directory not found/);
  const badTask = join(tempDir('colora-tasks-'), 'task1_x.json');
  writeFileSync(badTask, '{"Definition": ["d"], "Positive Examples": [], "Instances": [{"input": 3, "output": ["x"]}]}');
  expectUsageError(colora('data', 'inspect', '--tasks-dir', join(badTask, '..'), '--task', 'task1_x'), /task1_x\.json: "Instances"\[0\]\.input must be a string/);
  expectUsageError(colora('bench', '--layers', 'two'), /--layers expects an integer/);
  expectUsageError(colora('generate', '--model', model, '--input-ids', '1,x'), /input-ids/);
  assert.equal(colora('train').code, 2);
});

test('verbs print help; unknown verbs are usage errors', { skip }, () => {
  const r = colora('--help');
  assert.equal(r.code, 0);
  for (const verb of ['train', 'eval', 'sweep', 'report', 'pretrain', 'generate', 'score', 'check', 'data', 'bench', 'theory']) assert.match(r.stdout, new RegExp(`\\n  ${verb}`));
  assert.equal(colora('frobnicate').code, 2);
});
