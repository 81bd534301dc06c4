/** Mixed lists of single letters and numbers: extract, count, add or sort one kind of element. */
import type { Rng } from '../../util/rng.js';
import type { BuiltinSpec, Sample } from './spec.js';
import { isNumeric, mixedList, type MixedListOptions } from './draw.js';
import { fmtJoin, fmtQuoted } from './format.js';

interface MixedOptions {
  name: string;
  description: string;
  definition: string;
  /** List length range. */
  length: [number, number];
  list?: MixedListOptions;
  f: (xs: string[]) => string;
  /** Draw the edge-case list for the second positive example. */
  edge?: (rng: Rng) => string[];
}

function mixedTask(o: MixedOptions): BuiltinSpec {
  const apply = (xs: string[]): Sample => ({ input: fmtQuoted(xs), output: o.f(xs) });
  const spec: BuiltinSpec = {
    name: o.name,
    group: 'string',
    family: 'mixed-list',
    mirrors: true,
    description: o.description,
    definition: o.definition,
    sample: (rng) => apply(mixedList(rng, rng.int(o.length[0], o.length[1]), o.list)),
  };
  const edge = o.edge;
  if (edge) spec.edge = (rng) => apply(edge(rng));
  return spec;
}

const letters = (xs: string[]) => xs.filter((x) => !isNumeric(x));
const numbers = (xs: string[]) => xs.filter(isNumeric);

/** Sorted unique characters; `-1` when there are none. */
export function sortedUnique(chars: string[]): string {
  const u = [...new Set(chars)].sort();
  return u.length === 0 ? '-1' : fmtJoin(u);
}

export const MIXED_LIST_TASKS: BuiltinSpec[] = [
  mixedTask({
    name: 'task488_extract_all_alphabetical_elements_from_list_in_order',
    description: 'the letters of a mixed list, in order',
    definition:
      'In this task, you are given an input list A. You need to find all the elements of the list that are alphabets, in the same order as they appear in the list A. Do not change their case/capitalization.',
    length: [2, 30],
    f: (xs) => fmtJoin(letters(xs)),
  }),
  mixedTask({
    name: 'task497_extract_all_numbers_from_list_in_order',
    description: 'the numbers of a mixed list, in order',
    definition:
      'In this task, you are given an input list A. You need to find all the elements of the list that are numbers, in the same order as they appear in the list A.',
    length: [2, 30],
    f: (xs) => fmtJoin(numbers(xs)),
  }),
  mixedTask({
    name: 'task499_extract_and_add_all_numbers_from_list',
    description: 'the sum of the numbers of a mixed list',
    definition:
      'In this task, you are given an input list A. You need to find all the elements of the list that are numbers and calculate their sum.',
    length: [2, 20],
    f: (xs) => String(numbers(xs).reduce((s, x) => s + Number(x), 0)),
  }),
  mixedTask({
    name: 'task504_count_all_alphabetical_elements_in_list',
    description: 'the number of letters in a mixed list',
    definition:
      'In this task, you are given an input list. A list contains several comma-separated items written within brackets. You need to return the count of all the alphabetical elements in the given list. Return 0 if there is no alphabetical element in the list.',
    length: [2, 40],
    f: (xs) => String(letters(xs).length),
  }),
  mixedTask({
    name: 'task505_count_all_numerical_elements_in_list',
    description: 'the number of numbers in a mixed list',
    definition:
      'In this task, you are given an input list A. You need to return the count of all the numerical elements in the list A. Return 0 if there is no numerical element in the list.',
    length: [2, 40],
    f: (xs) => String(numbers(xs).length),
  }),
  mixedTask({
    name: 'task636_extract_and_sort_unique_alphabets_in_a_list',
    description: 'the unique letters of a mixed list, sorted (-1 if none)',
    definition:
      'In this task, you are given an input list A comprising numbers and alphabets. You need to extract and sort the unique alphabets in the list. The alphabets in the input list will only be in lowercase. Return -1 if there is no alphabet in the input list.',
    length: [2, 44],
    list: { lowerOnly: true },
    f: (xs) => sortedUnique(letters(xs)),
    edge: (rng) => mixedList(rng, rng.int(2, 5), { lowerOnly: true, pNumber: 1 }),
  }),
  mixedTask({
    name: 'task637_extract_and_sort_unique_digits_in_a_list',
    description: 'the unique digits used in a mixed list, sorted (-1 if none)',
    definition:
      'In this task, you are given an input list A. You need to extract and sort the unique digits used in the list, in ascending order. Return -1 if there is no digit in the list.',
    length: [2, 15],
    list: { lowerOnly: true, maxNumber: 499 },
    f: (xs) => sortedUnique(numbers(xs).flatMap((x) => [...x])),
    edge: (rng) => mixedList(rng, rng.int(2, 5), { lowerOnly: true, pNumber: 0 }),
  }),
];
