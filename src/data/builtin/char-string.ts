/** Character-level string tasks: filter, pick or rearrange the characters of a string. */
import type { Rng } from '../../util/rng.js';
import type { BuiltinSpec } from './spec.js';
import { LETTERS, LOWER, UPPER, VOWELS, charString } from './draw.js';
import { fmtQuoted } from './format.js';
import { poolWord } from './words.js';

const isVowel = (c: string) => VOWELS.includes(c);

/** Mixed-case letters, vowels about 44% of the time (as in task365). */
function vowelHeavy(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = rng.next() < 0.44 ? rng.pick([...'aeiou']) : rng.pick([...'bcdfghjklmnpqrstvwxyz']);
    s += rng.next() < 0.5 ? c.toUpperCase() : c;
  }
  return s;
}

/** n distinct letters of mixed case. */
function uniqueLetters(rng: Rng, n: number): string {
  return rng.shuffle([...LETTERS]).slice(0, n).join('');
}

/** The longest palindromic substring; the first one on ties (so the first character at length 1). */
export function longestPalindrome(s: string): string {
  let best = s.slice(0, 1);
  for (let c = 0; c < 2 * s.length - 1; c++) {
    let lo = Math.floor(c / 2);
    let hi = lo + (c % 2);
    while (lo >= 0 && hi < s.length && s[lo] === s[hi]) {
      lo--;
      hi++;
    }
    const len = hi - lo - 1;
    if (len > best.length || (len === best.length && lo + 1 < s.indexOf(best))) best = s.slice(lo + 1, hi);
  }
  return best;
}

function maxChar(s: string): string {
  return [...s].reduce((a, b) => (b > a ? b : a));
}

function minChar(s: string): string {
  return [...s].reduce((a, b) => (b < a ? b : a));
}

/** A string of n letters over a random alphabet of k lowercase letters (task850's inputs). */
function smallAlphabet(rng: Rng, n: number, k: number): string {
  return charString(rng, n, rng.shuffle([...LOWER]).slice(0, k).join(''));
}

export const CHAR_STRING_TASKS: BuiltinSpec[] = [
  {
    name: 'task365_synthetic_remove_vowels',
    group: 'string',
    family: 'char-string',
    mirrors: true,
    description: 'remove the vowels from a string',
    definition:
      "In this task you will be given a string of characters. You should remove all vowels from the given string. Vowels are: i,e,a,u,o. The character 'y' or 'Y' does not count as a vowel.",
    sample: (rng) => {
      const s = vowelHeavy(rng, rng.int(2, 20));
      return { input: s, output: [...s].filter((c) => !isVowel(c)).join('') };
    },
  },
  {
    name: 'builtin_remove_consonants',
    group: 'string',
    family: 'char-string',
    mirrors: false,
    description: 'remove the consonants from a string',
    definition:
      "In this task you will be given a string of characters. You should remove all consonants from the given string and keep only the vowels, in order. Vowels are: i,e,a,u,o. The character 'y' or 'Y' counts as a consonant.",
    sample: (rng) => {
      let s = vowelHeavy(rng, rng.int(2, 20));
      // at least one vowel, so that the answer is never empty
      if (![...s].some(isVowel)) s += rng.pick([...'aeiouAEIOU']);
      return { input: s, output: [...s].filter(isVowel).join('') };
    },
  },
  {
    name: 'task1148_maximum_ascii_value',
    group: 'string',
    family: 'char-string',
    mirrors: true,
    description: 'the character with the largest ASCII value',
    definition:
      'In this task, you are given a string with unique characters in it and you need to return the character from the string which has the maximum ASCII value. ASCII stands for American Standard Code For Information Interchange, and it assigns a unique number to each character. The characters [a - z] have an ASCII range of 97-122 and [A-Z] have an ASCII range of 65-90 respectively.',
    sample: (rng) => {
      const s = uniqueLetters(rng, rng.int(5, 20));
      return { input: s, output: maxChar(s) };
    },
  },
  {
    name: 'builtin_min_ascii_value',
    group: 'string',
    family: 'char-string',
    mirrors: false,
    description: 'the character with the smallest ASCII value',
    definition:
      'In this task, you are given a string with unique characters in it and you need to return the character from the string which has the minimum ASCII value. The characters [A-Z] have an ASCII range of 65-90 and [a - z] have an ASCII range of 97-122 respectively, so every uppercase letter has a smaller ASCII value than every lowercase letter.',
    sample: (rng) => {
      const s = uniqueLetters(rng, rng.int(5, 20));
      return { input: s, output: minChar(s) };
    },
  },
  {
    name: 'builtin_reverse_string',
    group: 'string',
    family: 'char-string',
    mirrors: false,
    description: 'a string written backwards',
    definition:
      'In this task you will be given a string of characters. You should reverse the string, so that its last character comes first and its first character comes last. Do not change the case of any character.',
    sample: (rng) => {
      const s = charString(rng, rng.int(2, 20), LETTERS);
      return { input: s, output: [...s].reverse().join('') };
    },
  },
  {
    name: 'task850_synthetic_longest_palindrome',
    group: 'string',
    family: 'char-string',
    mirrors: true,
    description: 'the longest palindromic substring (the first one on ties)',
    definition:
      'In this task you will be given a string and you should find the longest substring that is a palindrome. A palindrome is a string that is the same backwards as it is forwards. If the longest palindrome has length 1, you should return the first character.',
    sample: (rng) => {
      const s = smallAlphabet(rng, rng.int(150, 200), rng.int(5, 8));
      return { input: s, output: longestPalindrome(s) };
    },
    edge: (rng) => {
      const s = smallAlphabet(rng, rng.int(5, 11), rng.int(3, 6));
      return { input: s, output: longestPalindrome(s) };
    },
  },
  {
    name: 'task079_conala_concat_strings',
    group: 'string',
    family: 'char-string',
    mirrors: true,
    description: 'concatenate a list of strings',
    definition: 'In this task you will be given a list of strings and you need to concatenate them.',
    sample: (rng) => {
      const xs = Array.from({ length: rng.int(2, 18) }, () =>
        rng.next() < 0.66 ? rng.pick([...LOWER, ...UPPER]) : poolWord(rng),
      );
      return { input: fmtQuoted(xs), output: xs.join('') };
    },
  },
];
