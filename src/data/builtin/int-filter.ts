/** Integer-list filters: keep the elements a rule accepts, in order; `[]` when none is left. */
import type { Rng } from '../../util/rng.js';
import type { BuiltinSpec, Sample } from './spec.js';
import { distinctInts, ints } from './draw.js';
import { fmtList } from './format.js';

export function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** First digit equals last digit (sign ignored); single digits count. */
export function sameFirstLastDigit(n: number): boolean {
  const s = String(Math.abs(n));
  return s[0] === s[s.length - 1];
}

interface FilterOptions {
  name: string;
  mirrors?: boolean;
  description: string;
  definition: string;
  /** True for the elements that stay. */
  keep: (x: number) => boolean;
  /** Draw an input list. */
  draw: (rng: Rng) => number[];
  /** Draw one element that the rule removes (for the all-removed example). */
  drawRemoved: (rng: Rng) => number;
}

function filterTask(o: FilterOptions): BuiltinSpec {
  const apply = (xs: number[]): Sample => ({ input: fmtList(xs), output: fmtList(xs.filter(o.keep)) });
  return {
    name: o.name,
    group: 'int-list',
    family: 'int-filter',
    mirrors: o.mirrors ?? true,
    description: o.description,
    definition: o.definition,
    sample: (rng) => apply(o.draw(rng)),
    edge: (rng) => apply(Array.from({ length: rng.int(2, 5) }, () => o.drawRemoved(rng))),
  };
}

/** An integer in [lo, hi] with the given remainder mod m. */
function withRemainder(rng: Rng, lo: number, hi: number, m: number, r: number): number {
  for (;;) {
    const v = rng.int(lo, hi);
    if (((v % m) + m) % m === r) return v;
  }
}

const small = (rng: Rng) => ints(rng, rng.int(2, 11), -100, 100);

/** 3-decimal floats and integers mixed, as in task367. */
function floatsAndInts(rng: Rng): number[] {
  return Array.from({ length: rng.int(2, 11) }, () => (rng.next() < 0.5 ? rng.int(-100, 100) : drawFloat(rng)));
}

function drawFloat(rng: Rng): number {
  const whole = rng.int(0, 99);
  const frac = rng.int(1, 999);
  const sign = rng.next() < 0.5 ? -1 : 1;
  return (sign * (whole * 1000 + frac)) / 1000;
}

/** About half primes, as in task366. */
function primesAndComposites(rng: Rng): number[] {
  return Array.from({ length: rng.int(2, 20) }, () => {
    const want = rng.next() < 0.5;
    for (;;) {
      const v = rng.int(2, 999);
      if (isPrime(v) === want) return v;
    }
  });
}

export const INT_FILTER_TASKS: BuiltinSpec[] = [
  filterTask({
    name: 'task205_remove_even_elements',
    description: 'remove the even numbers from a list',
    definition:
      'In this task you will be given a list of numbers. A list is written as comma-separated numbers between two brackets, like: [1,2,3]. You should remove all of the even numbers from the list. If every number in the input list is even, an empty list should be returned. Zero counts as an even number.',
    keep: (x) => x % 2 !== 0,
    draw: (rng) => ints(rng, rng.int(3, 10), 1, 200),
    drawRemoved: (rng) => withRemainder(rng, 1, 200, 2, 0),
  }),
  filterTask({
    name: 'task369_synthetic_remove_odds',
    description: 'remove the odd integers from a list',
    definition:
      'In this task, you will be given a list of integers. You should remove all of the odd integers from the list. If every integer in the input list is odd, then an empty list ("[]") should be returned.',
    keep: (x) => x % 2 === 0,
    draw: small,
    drawRemoved: (rng) => withRemainder(rng, -100, 100, 2, 1),
  }),
  filterTask({
    name: 'task370_synthetic_remove_divisible_by_3',
    description: 'remove the integers divisible by 3 from a list',
    definition:
      'In this task you will be given a list of integers. You should remove all of the integers that are divisible by 3 from the list. If every integer in the input list is divisible by 3, then an empty list should be returned. Zero is divisible by 3.',
    keep: (x) => x % 3 !== 0,
    draw: small,
    drawRemoved: (rng) => withRemainder(rng, -100, 100, 3, 0),
  }),
  filterTask({
    name: 'task367_synthetic_remove_floats',
    description: 'remove the numbers that are not whole numbers from a list',
    definition:
      'In this task you will be given a list of numbers. You should remove any number that is not an integer (whole number). If no number is a whole number, then an empty list ("[]") should be returned. Otherwise, answer with the list of whole numbers separated by commas inside brackets.',
    keep: (x) => Number.isInteger(x),
    draw: floatsAndInts,
    drawRemoved: drawFloat,
  }),
  filterTask({
    name: 'task366_synthetic_return_primes',
    description: 'keep only the prime numbers of a list',
    definition:
      "In this task you will be given a list of integers. You should remove any integer that is not prime. A prime integer is an integer that is only divisible by '1' and itself. The output should be the list of prime numbers in the input list. If there are no primes in the input list, an empty list (\"[]\") should be returned.",
    keep: isPrime,
    draw: primesAndComposites,
    drawRemoved: (rng) => {
      for (;;) {
        const v = rng.int(2, 999);
        if (!isPrime(v)) return v;
      }
    },
  }),
  filterTask({
    name: 'task372_synthetic_palindrome_numbers',
    description: 'keep the integers whose first and last digits are the same',
    definition:
      'In this task you will be given a list of integers. You should only return an integer if its first digit is the same as its last digit. An integer with a single digit should be returned. If no integer starts and ends with the same digit, an empty list ("[]") should be returned.',
    keep: sameFirstLastDigit,
    draw: (rng) => ints(rng, rng.int(15, 25), -999, 999),
    drawRemoved: (rng) => {
      for (;;) {
        const v = rng.int(-999, 999);
        if (!sameFirstLastDigit(v)) return v;
      }
    },
  }),
  filterTask({
    name: 'builtin_remove_negatives',
    mirrors: false,
    description: 'remove the negative integers from a list',
    definition:
      'In this task you will be given a list of integers. You should remove all of the negative integers from the list. Zero is not negative. If every integer in the input list is negative, then an empty list ("[]") should be returned.',
    keep: (x) => x >= 0,
    draw: small,
    drawRemoved: (rng) => rng.int(-100, -1),
  }),
  {
    name: 'task1150_delete_max_min',
    group: 'int-list',
    family: 'int-filter',
    mirrors: true,
    description: 'delete the maximum and the minimum of a list, keeping the order',
    definition:
      'In this task, you are given a list of numbers, separated by commas inside brackets. You need to remove the maximum (the number with the largest value) and the minimum (the number with the smallest value) from the list and return the rest in the same order as the input. Your answer should be a list of numbers separated by commas, inside brackets.',
    sample: (rng) => {
      const xs = distinctInts(rng, 20, 10, 499);
      const hi = Math.max(...xs);
      const lo = Math.min(...xs);
      return { input: fmtList(xs), output: fmtList(xs.filter((x) => x !== hi && x !== lo)) };
    },
  },
];
