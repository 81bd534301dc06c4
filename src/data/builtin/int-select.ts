/** Integer-list statistics: one integer computed from a list (order statistics, gaps, sums). */
import type { Rng } from '../../util/rng.js';
import type { BuiltinSpec } from './spec.js';
import { distinctInts, ints } from './draw.js';
import { fmtList } from './format.js';

function selectTask(
  name: string,
  mirrors: boolean,
  description: string,
  definition: string,
  draw: (rng: Rng) => number[],
  f: (xs: number[]) => number,
): BuiltinSpec {
  return {
    name,
    group: 'int-list',
    family: 'int-select',
    mirrors,
    description,
    definition,
    sample: (rng) => {
      const xs = draw(rng);
      return { input: fmtList(xs), output: String(f(xs)) };
    },
  };
}

/** `[...], k=N`, the input form of task1194 / task1406; k is 1-based. */
function kthTask(name: string, description: string, definition: string, largest: boolean): BuiltinSpec {
  return {
    name,
    group: 'int-list',
    family: 'int-select',
    mirrors: true,
    description,
    definition,
    sample: (rng) => {
      const xs = distinctInts(rng, 20, 1, 299);
      const k = rng.int(1, 20);
      const sorted = [...xs].sort((a, b) => (largest ? b - a : a - b));
      return { input: `${fmtList(xs)}, k=${k}`, output: String(sorted[k - 1]) };
    },
  };
}

export function gaps(xs: readonly number[]): number[] {
  const s = [...xs].sort((a, b) => a - b);
  return s.slice(1).map((x, i) => x - s[i]);
}

const small = (rng: Rng) => ints(rng, rng.int(3, 10), -100, 100);

export const INT_SELECT_TASKS: BuiltinSpec[] = [
  selectTask(
    'task1405_find_median',
    true,
    'the median of a list of 25 integers',
    'In this task, you are given a list of integers. You need to find the median of the list of integers and return it as the output. The median is the middle value of the list of numbers, such that half of the elements are less than the median and the other half of the elements are greater than the median.',
    (rng) => distinctInts(rng, 25, 10, 499),
    (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) / 2],
  ),
  kthTask(
    'task1406_kth_smallest_element',
    'the k-th smallest element of a list',
    'In this task, you are given a list of integers and an integer k. You need to find the kth smallest element in the input list and return it.',
    false,
  ),
  kthTask(
    'task1194_kth_largest_element',
    'the k-th largest element of a list',
    'In this task, you are given a list of integers and an integer k. You need to find the kth largest element in the input list.',
    true,
  ),
  selectTask(
    'task1445_closest_integers',
    true,
    'the smallest absolute difference between two elements',
    'In this task you will be given a list of integers. You should find the minimum absolute difference between 2 integers in the list. The absolute difference is the absolute value of one integer subtracted by another. The output should be a single integer which is the smallest possible absolute distance.',
    small,
    (xs) => Math.min(...gaps(xs)),
  ),
  selectTask(
    'task1446_farthest_integers',
    true,
    'the largest absolute difference between two elements',
    'In this task you will be given a list of integers. You should find the maximum absolute difference between 2 integers in the list. The absolute difference is the absolute value of one integer subtracted by another. The output should be a single integer which is the largest possible absolute distance.',
    small,
    (xs) => Math.max(...xs) - Math.min(...xs),
  ),
  selectTask(
    'builtin_max_element',
    false,
    'the largest element of a list',
    'In this task you will be given a list of integers. You should find the maximum integer in the list, that is, the integer with the largest value. The output should be a single integer.',
    small,
    (xs) => Math.max(...xs),
  ),
  selectTask(
    'builtin_min_element',
    false,
    'the smallest element of a list',
    'In this task you will be given a list of integers. You should find the minimum integer in the list, that is, the integer with the smallest value. The output should be a single integer.',
    small,
    (xs) => Math.min(...xs),
  ),
  selectTask(
    'builtin_sum_list',
    false,
    'the sum of the elements of a list',
    'In this task you will be given a list of integers. You should add up all of the integers in the list. The output should be a single integer which is the sum of the elements of the list.',
    small,
    (xs) => xs.reduce((a, b) => a + b, 0),
  ),
];
