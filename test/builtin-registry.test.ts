/** The built-in task registry: listing, lookup, determinism, dedupe, file round trip, `data generate`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  builtinTask,
  hasBuiltinTask,
  listBuiltinFamilies,
  listBuiltinTasks,
} from '../src/data/builtin/registry.js';
import { readTaskFile } from '../src/data/ni-task.js';
import { dataGenerateCommand, writeBuiltinTasks } from '../src/data/generate-command.js';
import { UsageError } from '../src/util/errors.js';
import { tempDir } from './helpers/temp.js';

const tasks = listBuiltinTasks();

function tmp(): string {
  return tempDir('colora-builtin-');
}

test('at least 24 tasks with unique names, in a stable order, each with a group, family and description', () => {
  assert.ok(tasks.length >= 24, `only ${tasks.length} tasks`);
  assert.equal(new Set(tasks.map((t) => t.name)).size, tasks.length);
  assert.deepEqual(listBuiltinTasks(), tasks);
  for (const t of tasks) {
    assert.ok(t.group === 'int-list' || t.group === 'string', `${t.name}: group ${t.group}`);
    assert.ok(t.family.length > 0 && t.description.length > 0, t.name);
    assert.equal(t.mirrors, !t.name.startsWith('builtin_'), `${t.name}: real NI names mirror, builtin_ names do not`);
    assert.match(t.name, t.mirrors ? /^task\d{3,4}_[a-z0-9_]+$/ : /^builtin_[a-z0-9_]+$/);
  }
});

test('families come in groups of similar tasks, listed contiguously, each within one group', () => {
  const families = listBuiltinFamilies();
  assert.ok(families.length >= 6);
  // contiguous: the family sequence changes exactly families.length - 1 times
  const changes = tasks.filter((t, i) => i > 0 && t.family !== tasks[i - 1].family).length;
  assert.equal(changes, families.length - 1);
  for (const f of families) {
    const members = tasks.filter((t) => t.family === f);
    assert.ok(members.length >= 3, `family ${f} has ${members.length} tasks`);
    assert.equal(new Set(members.map((t) => t.group)).size, 1, `family ${f} spans groups`);
  }
});

test('hasBuiltinTask, and an unknown name is a UsageError (exit 2) with a suggestion', () => {
  assert.equal(hasBuiltinTask('task205_remove_even_elements'), true);
  assert.equal(hasBuiltinTask('task205_remove_even'), false);
  assert.throws(
    () => builtinTask('task205_remove_even_element', { instances: 3, seed: 0 }),
    (e: unknown) =>
      e instanceof UsageError &&
      e.exitCode === 2 &&
      e.message.includes("'task205_remove_even_element'") &&
      e.message.includes("did you mean 'task205_remove_even_elements'"),
  );
  assert.throws(() => builtinTask('task205_remove_even_elements', { instances: -1, seed: 0 }), UsageError);
});

test('every task: NI shape, ids <task>-<i>, 2 positive examples unlike the instances, distinct inputs', () => {
  for (const { name } of tasks) {
    const task = builtinTask(name, { instances: 500, seed: 0 });
    assert.equal(task.name, name);
    assert.equal(task.source, 'builtin');
    assert.ok(task.definition.length > 40, `${name}: definition`);
    assert.equal(task.positiveExamples.length, 2);
    assert.deepEqual(task.negativeExamples, []);
    assert.equal(task.instances.length, 500);
    task.instances.forEach((inst, i) => assert.equal(inst.id, `${name}-${i}`));
    const inputs = new Set(task.instances.map((i) => i.input));
    assert.equal(inputs.size, 500, `${name}: duplicate instance inputs`);
    for (const ex of task.positiveExamples) assert.ok(!inputs.has(ex.input), `${name}: example repeats an instance`);
    assert.notEqual(task.positiveExamples[0].input, task.positiveExamples[1].input);
  }
});

test('deterministic: same seed gives the same task, another seed other instances, more instances extend fewer', () => {
  for (const { name } of tasks) {
    const a = builtinTask(name, { instances: 40, seed: 7 });
    assert.deepEqual(builtinTask(name, { instances: 40, seed: 7 }), a);
    const b = builtinTask(name, { instances: 40, seed: 8 });
    const shared = b.instances.filter((x, i) => x.input === a.instances[i].input).length;
    assert.ok(shared < 5, `${name}: seeds 7 and 8 share ${shared}/40 instances`);
    const longer = builtinTask(name, { instances: 80, seed: 7 });
    assert.deepEqual(longer.instances.slice(0, 40), a.instances, `${name}: not prefix-stable`);
    assert.deepEqual(longer.positiveExamples, a.positiveExamples);
  }
});

test('written files read back (readTaskFile) to the generated task, for every task', () => {
  const dir = tmp();
  try {
    const files = writeBuiltinTasks({ out: dir, instances: 60, seed: 3 });
    assert.equal(files.length, tasks.length);
    assert.deepEqual(readdirSync(dir).sort(), tasks.map((t) => `${t.name}.json`).sort());
    for (const { name } of tasks) {
      const file = join(dir, `${name}.json`);
      const back = readTaskFile(file);
      assert.deepEqual(back, { ...builtinTask(name, { instances: 60, seed: 3 }), source: file });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data generate: --task picks tasks, --instances and --seed are honoured', async () => {
  const dir = tmp();
  try {
    await dataGenerateCommand({ out: dir, task: ['builtin_sort_ascending', 'task162_count_words_starting_with_letter'], instances: 9, seed: 5 });
    assert.deepEqual(readdirSync(dir).sort(), ['builtin_sort_ascending.json', 'task162_count_words_starting_with_letter.json']);
    const back = readTaskFile(join(dir, 'builtin_sort_ascending.json'));
    assert.deepEqual(back.instances, builtinTask('builtin_sort_ascending', { instances: 9, seed: 5 }).instances);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data generate: an unknown --task is a UsageError naming it, and nothing is written', async () => {
  const dir = join(tmp(), 'out');
  try {
    await assert.rejects(
      dataGenerateCommand({ out: dir, task: ['builtin_sort_ascending', 'task376_reverse_order_of_word'], instances: 5, seed: 0 }),
      (e: unknown) =>
        e instanceof UsageError &&
        e.exitCode === 2 &&
        /--task: unknown built-in task 'task376_reverse_order_of_word' \(did you mean 'task376_reverse_order_of_words'\?\)/.test(e.message),
    );
    assert.equal(existsSync(dir), false);
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('generation speed: 1000 instances of every task (measured, not asserted)', (t) => {
  const t0 = performance.now();
  let n = 0;
  for (const { name } of tasks) n += builtinTask(name, { instances: 1000, seed: 11 }).instances.length;
  const ms = performance.now() - t0;
  t.diagnostic(`${n} instances of ${tasks.length} tasks in ${ms.toFixed(0)} ms`);
  assert.equal(n, 1000 * tasks.length);
});
