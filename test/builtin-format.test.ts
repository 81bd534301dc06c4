/**
 * Built-in tasks that carry a real NI name copy that task's format: one input regex and one
 * output regex per task must match every instance of the real file (../shared) and of the
 * generated task, and generated inputs are about as long as the real ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtinTask, listBuiltinTasks } from '../src/data/builtin/registry.js';
import { readTaskFile } from '../src/data/ni-task.js';
import { sharedPath, skipUnlessShared } from './helpers/shared.js';

const INT = String.raw`-?\d+`;
const NUM = String.raw`-?\d+(?:\.\d+)?`;
const list = (item: string) => String.raw`\[(?:${item}(?:, ${item})*)?\]`;
const INTS = list(INT);
const NUMS = list(NUM);
const NESTED = list(INTS);
const QUOTED = list(`'[^',]*'`);
const JOINED = String.raw`(?:[^,\s]+(?:, [^,\s]+)*)?`;
const SENT = String.raw`Sentence: '.+'`; // real captions may hold an apostrophe (it's)
const WORDS = String.raw`[a-z0-9 ,'/.-]*`; // lowercase words (real captions keep a little punctuation)

/** [input shape, output shape] per mirrored task; both anchored. */
const SHAPES: Record<string, [string, string]> = {
  task205_remove_even_elements: [INTS, INTS],
  task369_synthetic_remove_odds: [INTS, INTS],
  task370_synthetic_remove_divisible_by_3: [INTS, INTS],
  task367_synthetic_remove_floats: [NUMS, INTS],
  task366_synthetic_return_primes: [INTS, INTS],
  task372_synthetic_palindrome_numbers: [INTS, INTS],
  task1150_delete_max_min: [INTS, INTS],
  task368_synthetic_even_or_odd_calculation: [INTS, NUMS],
  task374_synthetic_pos_or_neg_calculation: [INTS, INTS],
  task1190_add_integer_to_list: [`${INTS} k=\\d+`, INTS],
  task1088_array_of_products: [INTS, INTS],
  task1405_find_median: [INTS, INT],
  task1406_kth_smallest_element: [`${INTS}, k=\\d+`, INT],
  task1194_kth_largest_element: [`${INTS}, k=\\d+`, INT],
  task1445_closest_integers: [INTS, INT],
  task1446_farthest_integers: [INTS, INT],
  task851_synthetic_multiply_evens: [NESTED, INTS],
  task852_synthetic_multiply_odds: [NESTED, INTS],
  task207_max_element_lists: [NESTED, INTS],
  task063_first_i_elements: [`\\d+, ${QUOTED}`, JOINED],
  task064_all_elements_except_first_i: [`\\d+, ${QUOTED}`, JOINED],
  task078_all_elements_except_last_i: [`\\d+, ${QUOTED}`, JOINED],
  task099_reverse_elements_between_index_i_and_j: [`\\d+, \\d+, ${QUOTED}`, JOINED],
  task488_extract_all_alphabetical_elements_from_list_in_order: [QUOTED, JOINED],
  task497_extract_all_numbers_from_list_in_order: [QUOTED, JOINED],
  task499_extract_and_add_all_numbers_from_list: [QUOTED, '\\d+'],
  task504_count_all_alphabetical_elements_in_list: [QUOTED, '\\d+'],
  task505_count_all_numerical_elements_in_list: [QUOTED, '\\d+'],
  task636_extract_and_sort_unique_alphabets_in_a_list: [QUOTED, '-1|[a-z](?:, [a-z])*'],
  task637_extract_and_sort_unique_digits_in_a_list: [QUOTED, '-1|\\d(?:, \\d)*'],
  task376_reverse_order_of_words: [SENT, WORDS],
  task377_remove_words_of_given_length: [`${SENT}\\. Remove all words of length '\\d+' in the given sentence\\.`, WORDS],
  task378_reverse_words_of_given_length: [`${SENT}\\. Reverse all words of length '\\d+' in the given sentence\\.`, WORDS],
  task160_replace_letter_in_a_sentence: [`${SENT}\\. Replace the letter '[a-z]' with '[a-z]' in the sentence\\.`, WORDS],
  task162_count_words_starting_with_letter: [`${SENT}\\. How many words start with the letter '[a-z]' in the sentence\\.`, '\\d+'],
  task365_synthetic_remove_vowels: ['[A-Za-z]+', '[A-Za-z]*'],
  task1148_maximum_ascii_value: ['[A-Za-z]+', '[A-Za-z]'],
  task850_synthetic_longest_palindrome: ['[a-z]+', '[a-z]+'],
  task079_conala_concat_strings: [list(`'[^']*'`), "[^\\s']+"], // words may end in a comma
};

const TASKS = 'natural-instructions/tasks';
const mirrored = listBuiltinTasks().filter((t) => t.mirrors);

test('every mirrored task has a shape here', () => {
  assert.deepEqual(mirrored.map((t) => t.name).sort(), Object.keys(SHAPES).sort());
});

test(
  'the 39 rule-based tasks of groups A and B in groups.json are all built in, A as int-list and B as string',
  { skip: skipUnlessShared('natural-instructions/groups.json') },
  () => {
    const groups = JSON.parse(readFileSync(sharedPath('natural-instructions/groups.json'), 'utf8')) as Record<string, string[]>;
    const byName = new Map(mirrored.map((t) => [t.name, t]));
    for (const [letter, group] of [['A', 'int-list'], ['B', 'string']] as const)
      for (const name of groups[letter]) {
        assert.ok(byName.has(name), `${name} (group ${letter}) is not built in`);
        assert.equal(byName.get(name)!.group, group, name);
      }
    assert.equal(groups.A.length + groups.B.length, mirrored.length);
  },
);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

for (const t of mirrored) {
  const rel = `${TASKS}/${t.name}.json`;
  test(`${t.name}: real and built-in instances have the same input/output shape`, { skip: skipUnlessShared(rel) }, (ctx) => {
    const [inShape, outShape] = SHAPES[t.name];
    const inRe = new RegExp(`^(?:${inShape})$`);
    const outRe = new RegExp(`^(?:${outShape})$`);
    const real = readTaskFile(sharedPath(rel));
    const built = builtinTask(t.name, { instances: 200, seed: 0 });
    for (const [which, task] of [['real', real], ['built-in', built]] as const)
      for (const inst of task.instances) {
        assert.match(inst.input, inRe, `${which} ${t.name} input`);
        for (const o of inst.output) assert.match(o, outRe, `${which} ${t.name} output`);
      }
    for (const ex of built.positiveExamples) {
      assert.match(ex.input, inRe);
      assert.match(ex.output, outRe);
    }
    const ratio = mean(built.instances.map((i) => i.input.length)) / mean(real.instances.map((i) => i.input.length));
    ctx.diagnostic(`mean input length, built-in / real: ${ratio.toFixed(2)}`);
    assert.ok(ratio > 0.75 && ratio < 1.33, `${t.name}: built-in inputs are ${ratio.toFixed(2)}x as long as the real ones`);
  });
}
