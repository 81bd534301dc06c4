/** Element-wise integer-list maps: one output element per input element, in order. */
import type { Rng } from '../../util/rng.js';
import type { BuiltinSpec } from './spec.js';
import { distinctInts, ints } from './draw.js';
import { fmtList, pyFloat } from './format.js';

function mapTask(
  name: string,
  mirrors: boolean,
  description: string,
  definition: string,
  draw: (rng: Rng) => number[],
  f: (x: number) => string,
): BuiltinSpec {
  return {
    name,
    group: 'int-list',
    family: 'int-map',
    mirrors,
    description,
    definition,
    sample: (rng) => {
      const xs = draw(rng);
      return { input: fmtList(xs), output: fmtList(xs.map(f)) };
    },
  };
}

/** `[...] k=N`, the input form of task1190. */
function withKTask(name: string, mirrors: boolean, description: string, definition: string, sign: 1 | -1): BuiltinSpec {
  return {
    name,
    group: 'int-list',
    family: 'int-map',
    mirrors,
    description,
    definition,
    sample: (rng) => {
      const xs = distinctInts(rng, 20, 1, 299);
      const k = rng.int(1, 20);
      return { input: `${fmtList(xs)} k=${k}`, output: fmtList(xs.map((x) => x + sign * k)) };
    },
  };
}

/** Product of all elements but the one at each position (exact for 8 values up to 14). */
export function productsExceptSelf(xs: readonly number[]): number[] {
  return xs.map((_, i) => xs.reduce((p, x, j) => (j === i ? p : p * x), 1));
}

const small = (rng: Rng) => ints(rng, rng.int(2, 11), -100, 100);

export const INT_MAP_TASKS: BuiltinSpec[] = [
  mapTask(
    'task368_synthetic_even_or_odd_calculation',
    true,
    'divide even elements by 4, turn odd elements into 4x+2',
    'In this task you will be given a list of integers. For every element in the list, if the element is even you should divide it by 4, and if the element is odd you should multiply it by 4 and then add 2. The output should be a list of numbers that is the result of applying that logic to the input list. You should not round any decimals in the output. Zero should be counted as an even integer.',
    small,
    (x) => (x % 2 === 0 ? pyFloat(x / 4) : String(4 * x + 2)),
  ),
  mapTask(
    'task374_synthetic_pos_or_neg_calculation',
    true,
    'multiply positive elements by 2 and negative elements by -3',
    'In this task you will be given a list of integers. For every element in the list, if the element is positive you should multiply it by 2. If the element is negative you should multiply it by -3. The output should be a list of integers that is the result of applying that logic to the input list.\n Note: A list is presented with comma-separated numbers inside two brackets.',
    small,
    (x) => String(x > 0 ? 2 * x : x < 0 ? -3 * x : 0),
  ),
  mapTask(
    'builtin_absolute_values',
    false,
    'replace every element by its absolute value',
    'In this task you will be given a list of integers. For every element in the list, you should replace it with its absolute value. The absolute value of a negative number is that number multiplied by -1, and the absolute value of a positive number or zero is the number itself. The output should be a list of integers with the same length as the input list.',
    small,
    (x) => String(Math.abs(x)),
  ),
  withKTask(
    'task1190_add_integer_to_list',
    true,
    'add an integer k to every element',
    'In this task, you are given a list of integers and an integer k. You need to add the integer k to each element in the list and return the updated list.',
    1,
  ),
  withKTask(
    'builtin_subtract_integer_from_list',
    false,
    'subtract an integer k from every element',
    'In this task, you are given a list of integers and an integer k. You need to subtract the integer k from each element in the list and return the updated list.',
    -1,
  ),
  {
    name: 'task1088_array_of_products',
    group: 'int-list',
    family: 'int-map',
    mirrors: true,
    description: 'replace every element by the product of all the other elements',
    definition:
      'You are given a list of integers. A list is shown by comma-separated numbers between two brackets. For example, [7,3,6] is a list: the number in location one is 7, the number in location two is 3, and the number in location three is 6. You should answer with a list in which the element at each location is equal to the product of the elements at every other location in the input list. For example, if a list has four numbers, the first element of your list is the product of the second, third and fourth elements of the given list, the second element of your list is the product of the first, third and fourth elements of the given list, and so on.',
    sample: (rng) => {
      const xs = distinctInts(rng, 8, 0, 14);
      return { input: fmtList(xs), output: fmtList(productsExceptSelf(xs)) };
    },
  },
];
