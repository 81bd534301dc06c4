/** Lists of integer lists: one integer per inner list. */
import type { Rng } from '../../util/rng.js';
import type { BuiltinSpec } from './spec.js';
import { ints } from './draw.js';
import { fmtList, fmtNested } from './format.js';

function nestedTask(
  name: string,
  mirrors: boolean,
  description: string,
  definition: string,
  draw: (rng: Rng) => number[][],
  f: (inner: number[]) => number,
): BuiltinSpec {
  return {
    name,
    group: 'int-list',
    family: 'nested-list',
    mirrors,
    description,
    definition,
    sample: (rng) => {
      const xss = draw(rng);
      return { input: fmtNested(xss), output: fmtList(xss.map(f)) };
    },
  };
}

/** Product of the elements that pass `keep`; 0 when none does. */
export function productOf(xs: readonly number[], keep: (x: number) => boolean): number {
  const kept = xs.filter(keep);
  return kept.length === 0 ? 0 : kept.reduce((p, x) => p * x, 1);
}

const fifties = (rng: Rng) => Array.from({ length: rng.int(3, 15) }, () => ints(rng, rng.int(2, 5), -50, 50));
const wide = (rng: Rng) => Array.from({ length: rng.int(2, 9) }, () => ints(rng, rng.int(2, 7), -200, 100));

export const NESTED_LIST_TASKS: BuiltinSpec[] = [
  nestedTask(
    'task851_synthetic_multiply_evens',
    true,
    'for each inner list, the product of its even numbers (0 if none)',
    'In this task you will be given a list, of lists, of integers. For every inner list contained in the input list, you should multiply every even number in that list. Zero should count as an even integer. The output should be a list of integers with the same length as the number of lists in the input list. If there are no even numbers in an inner list you should output 0 for that list.',
    fifties,
    (xs) => productOf(xs, (x) => x % 2 === 0),
  ),
  nestedTask(
    'task852_synthetic_multiply_odds',
    true,
    'for each inner list, the product of its odd numbers (0 if none)',
    'In this task you will be given a list, of lists, of integers. For every inner list contained in the input list, you should multiply every odd number in that list. Zero should not count as an odd integer. The output should be a list of integers with the same length as the number of lists in the input list. If there are no odd numbers in an inner list you should output 0 for that list.',
    fifties,
    (xs) => productOf(xs, (x) => x % 2 !== 0),
  ),
  nestedTask(
    'task207_max_element_lists',
    true,
    'the maximum of each inner list',
    'In this task, you are given a list. This list contains many lists of integers, each written within brackets. Your task is to find the maximum number among the members of each inner list. The output should be a list comprised of the maximums, in the same order as the inner lists.',
    wide,
    (xs) => Math.max(...xs),
  ),
  nestedTask(
    'builtin_min_element_lists',
    false,
    'the minimum of each inner list',
    'In this task, you are given a list. This list contains many lists of integers, each written within brackets. Your task is to find the minimum number among the members of each inner list. The output should be a list comprised of the minimums, in the same order as the inner lists.',
    wide,
    (xs) => Math.min(...xs),
  ),
  nestedTask(
    'builtin_sum_inner_lists',
    false,
    'the sum of each inner list',
    'In this task you will be given a list, of lists, of integers. For every inner list contained in the input list, you should add up all of the numbers in that list. The output should be a list of integers with the same length as the number of lists in the input list.',
    fifties,
    (xs) => xs.reduce((a, b) => a + b, 0),
  ),
];
