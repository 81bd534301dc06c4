/** Random draws shared by the generators (all from a caller-supplied seeded Rng). */
import type { Rng } from '../../util/rng.js';

export const LOWER = 'abcdefghijklmnopqrstuvwxyz';
export const UPPER = LOWER.toUpperCase();
export const LETTERS = LOWER + UPPER;
export const VOWELS = 'aeiouAEIOU';

/** n integers uniform in [lo, hi]. */
export function ints(rng: Rng, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => rng.int(lo, hi));
}

/** n distinct integers in [lo, hi], in random order (requires n <= hi - lo + 1). */
export function distinctInts(rng: Rng, n: number, lo: number, hi: number): number[] {
  if (n > hi - lo + 1) throw new Error(`distinctInts: ${n} values from [${lo}, ${hi}]`);
  const seen = new Set<number>();
  const out: number[] = [];
  while (out.length < n) {
    const v = rng.int(lo, hi);
    if (!seen.has(v)) {
      seen.add(v);
      out.push(v);
    }
  }
  return out;
}

/** An odd integer in [lo, hi] (NI's mixed lists only hold odd numbers). */
export function oddInt(rng: Rng, lo: number, hi: number): number {
  const first = lo % 2 === 0 ? lo + 1 : lo;
  return first + 2 * rng.int(0, Math.floor((hi - first) / 2));
}

/** Is the token a number (a run of digits) rather than a letter? */
export function isNumeric(token: string): boolean {
  return /^\d+$/.test(token);
}

export interface MixedListOptions {
  /** Letters only lowercase (default: mixed case). */
  lowerOnly?: boolean;
  /** Largest number (odd numbers from 1 to this). */
  maxNumber?: number;
  /** Chance of a number at each position. Default: 0.5, except that 3% of lists are all letters
   * and 3% all numbers, as in the real files (the empty-answer cases). */
  pNumber?: number;
}

/** NI's mixed lists: single letters and odd numbers, as strings. */
export function mixedList(rng: Rng, n: number, opts: MixedListOptions = {}): string[] {
  const alphabet = opts.lowerOnly ? LOWER : LETTERS;
  const maxNumber = opts.maxNumber ?? 9999;
  let p = opts.pNumber;
  if (p === undefined) {
    const u = rng.next();
    p = u < 0.03 ? 0 : u < 0.06 ? 1 : 0.5;
  }
  return Array.from({ length: n }, () =>
    rng.next() < p ? String(oddInt(rng, 1, maxNumber)) : alphabet[rng.int(0, alphabet.length - 1)],
  );
}

/** A string of n characters drawn from `alphabet`. */
export function charString(rng: Rng, n: number, alphabet: string): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[rng.int(0, alphabet.length - 1)];
  return s;
}
