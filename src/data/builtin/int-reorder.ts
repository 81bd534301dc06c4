/** Integer-list reorderings: the same elements in another order. */
import type { BuiltinSpec } from './spec.js';
import { ints } from './draw.js';
import { fmtList } from './format.js';

function reorderTask(name: string, description: string, definition: string, f: (xs: number[]) => number[]): BuiltinSpec {
  return {
    name,
    group: 'int-list',
    family: 'int-reorder',
    mirrors: false,
    description,
    definition,
    sample: (rng) => {
      const xs = ints(rng, rng.int(3, 10), -100, 100);
      return { input: fmtList(xs), output: fmtList(f([...xs])) };
    },
  };
}

export const INT_REORDER_TASKS: BuiltinSpec[] = [
  reorderTask(
    'builtin_sort_ascending',
    'sort a list from smallest to largest',
    'In this task you will be given a list of integers. You should sort the list in ascending order, from the smallest integer to the largest. The output should be a list with the same integers as the input, inside brackets and separated by commas.',
    (xs) => xs.sort((a, b) => a - b),
  ),
  reorderTask(
    'builtin_sort_descending',
    'sort a list from largest to smallest',
    'In this task you will be given a list of integers. You should sort the list in descending order, from the largest integer to the smallest. The output should be a list with the same integers as the input, inside brackets and separated by commas.',
    (xs) => xs.sort((a, b) => b - a),
  ),
  reorderTask(
    'builtin_reverse_list',
    'reverse the order of a list',
    'In this task you will be given a list of integers. You should reverse the order of the list, so that the last integer comes first and the first integer comes last. The output should be a list with the same integers as the input, inside brackets and separated by commas.',
    (xs) => xs.reverse(),
  ),
];
