/** Slices of mixed lists (`i, A` inputs, 1-based positions), answered as `a, 34, f`. */
import type { Rng } from '../../util/rng.js';
import type { BuiltinSpec } from './spec.js';
import { mixedList } from './draw.js';
import { fmtJoin, fmtQuoted } from './format.js';

/** `i, ['a', ...]` with 1 <= i < len(A). */
function sliceTask(
  name: string,
  mirrors: boolean,
  description: string,
  definition: string,
  f: (i: number, xs: string[]) => string[],
): BuiltinSpec {
  return {
    name,
    group: 'int-list',
    family: 'list-slice',
    mirrors,
    description,
    definition,
    sample: (rng: Rng) => {
      const xs = mixedList(rng, rng.int(2, 30));
      const i = rng.int(1, Math.min(xs.length - 1, 15));
      return { input: `${i}, ${fmtQuoted(xs)}`, output: fmtJoin(f(i, xs)) };
    },
  };
}

export const LIST_SLICE_TASKS: BuiltinSpec[] = [
  sliceTask(
    'task063_first_i_elements',
    true,
    'the first i elements of a list',
    'In this task, you are given inputs i and A, where i is an integer and A is a list. You need to output the first i elements of A, starting with the 1st element in A. i will always have a value less than the length of A.',
    (i, xs) => xs.slice(0, i),
  ),
  sliceTask(
    'task064_all_elements_except_first_i',
    true,
    'all elements of a list after the first i',
    'In this task, you are given inputs i and A, where i is an integer and A is a list. You need to list all the elements of A after the first i elements. i will always have a value less than the length of A.',
    (i, xs) => xs.slice(i),
  ),
  sliceTask(
    'task078_all_elements_except_last_i',
    true,
    'all elements of a list before the last i',
    'In this task, you are given inputs i and A, where i is an integer and A is a list. You need to list all the elements of A preceding the last i elements. i will always have a value less than the length of A.',
    (i, xs) => xs.slice(0, xs.length - i),
  ),
  sliceTask(
    'builtin_last_i_elements',
    false,
    'the last i elements of a list',
    'In this task, you are given inputs i and A, where i is an integer and A is a list. You need to output the last i elements of A, in the order in which they appear in A. i will always have a value less than the length of A.',
    (i, xs) => xs.slice(xs.length - i),
  ),
  {
    name: 'task099_reverse_elements_between_index_i_and_j',
    group: 'int-list',
    family: 'list-slice',
    mirrors: true,
    description: 'the elements from position i to position j, in reverse order',
    definition:
      'In this task, you are given inputs i, j, and A, where i and j are integers and A is a list. You need to list all elements of A from the ith element to the jth element in the reverse order. i and j will be positive, and will never be greater than the length of A. i will always be less than j.',
    sample: (rng) => {
      const xs = mixedList(rng, rng.int(2, 30));
      const i = rng.int(1, xs.length - 1);
      const j = rng.int(i + 1, xs.length);
      return { input: `${i}, ${j}, ${fmtQuoted(xs)}`, output: fmtJoin(xs.slice(i - 1, j).reverse()) };
    },
  },
];
