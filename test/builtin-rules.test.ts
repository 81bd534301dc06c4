/**
 * Every built-in task's outputs obey its own definition, checked by checkers written here from
 * the definitions (not by calling the generators' helpers), over a few hundred instances each
 * plus the positive examples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinTask, listBuiltinTasks } from '../src/data/builtin/registry.js';

type Checker = (input: string, output: string) => void;

// ---- parsing helpers (independent of src/data/builtin/format.ts) ----

const nums = (s: string): number[] => JSON.parse(s) as number[];
const quoted = (s: string): string[] => JSON.parse(s.replace(/'/g, '"')) as string[];
const joined = (s: string): string[] => (s === '' ? [] : s.split(', '));
const isNumberToken = (t: string) => t.length > 0 && [...t].every((c) => c >= '0' && c <= '9');
const isEven = (x: number) => Math.abs(x) % 2 === 0;

function withK(input: string, sep: string): { xs: number[]; k: number } {
  const at = input.lastIndexOf(sep);
  assert.ok(at > 0, `no '${sep}' in ${input}`);
  return { xs: nums(input.slice(0, at)), k: Number(input.slice(at + sep.length)) };
}

function prefixAndList(input: string, count: number): { ints: number[]; list: string[] } {
  const parts = input.split(', ');
  const ints = parts.slice(0, count).map(Number);
  return { ints, list: quoted(parts.slice(count).join(', ')) };
}

function sentence(input: string): { words: string[]; rest: string } {
  const m = /^Sentence: '([^']*)'(.*)$/.exec(input);
  assert.ok(m, `not a sentence input: ${input}`);
  return { words: m[1].split(' '), rest: m[2] };
}

function quotedArg(rest: string, n = 0): string {
  const all = [...rest.matchAll(/'([^']*)'/g)].map((m) => m[1]);
  assert.ok(all.length > n, `no quoted argument ${n} in ${rest}`);
  return all[n];
}

/** `sub` appears in `full` in order (not necessarily contiguous). */
function isSubsequence<T>(sub: readonly T[], full: readonly T[]): boolean {
  let i = 0;
  for (const x of full) if (i < sub.length && sub[i] === x) i++;
  return i === sub.length;
}

function sameMultiset(a: readonly number[], b: readonly number[]): boolean {
  const s = (xs: readonly number[]) => [...xs].sort((p, q) => p - q).join(',');
  return a.length === b.length && s(a) === s(b);
}

/** Filter tasks: output is the in-order subsequence of exactly the kept elements. */
function keeps(pred: (x: number) => boolean): Checker {
  return (input, output) => {
    const xs = nums(input);
    const out = nums(output);
    assert.ok(out.every(pred), `${output} holds a removed element`);
    assert.ok(isSubsequence(out, xs), `${output} is not an in-order part of ${input}`);
    assert.equal(out.length, xs.filter(pred).length, `${output} dropped a kept element of ${input}`);
  };
}

function primeTable(n: number): boolean[] {
  const p = Array<boolean>(n + 1).fill(true);
  p[0] = p[1] = false;
  for (let i = 2; i * i <= n; i++) if (p[i]) for (let j = i * i; j <= n; j += i) p[j] = false;
  return p;
}
const PRIME = primeTable(1000);

function firstDigit(x: number): number {
  let a = Math.abs(x);
  while (a >= 10) a = Math.floor(a / 10);
  return a;
}

const allPairs = (xs: number[]) => xs.flatMap((a, i) => xs.slice(i + 1).map((b) => Math.abs(a - b)));

function elementwise(f: (x: number) => number): Checker {
  return (input, output) => {
    const xs = nums(input);
    const out = nums(output);
    assert.equal(out.length, xs.length);
    xs.forEach((x, i) => assert.equal(out[i], f(x), `element ${x} of ${input}`));
  };
}

function perInner(f: (inner: number[]) => number): Checker {
  return (input, output) => {
    const xss = JSON.parse(input) as number[][];
    const out = nums(output);
    assert.equal(out.length, xss.length);
    xss.forEach((inner, i) => assert.equal(out[i], f(inner), `inner list ${JSON.stringify(inner)}`));
  };
}

function productWhere(inner: number[], pred: (x: number) => boolean): number {
  let p = 1;
  let any = false;
  for (const x of inner)
    if (pred(x)) {
      p *= x;
      any = true;
    }
  return any ? p + 0 : 0; // + 0 turns -0 into 0
}

const isVowel = (c: string) => 'aeiouAEIOU'.includes(c);
const isPalindrome = (s: string) => {
  for (let i = 0, j = s.length - 1; i < j; i++, j--) if (s[i] !== s[j]) return false;
  return true;
};

/** Count checker for the `Sentence: '...'. How many words ...` tasks. */
function countWords(pred: (w: string, arg: string) => boolean): Checker {
  return (input, output) => {
    const { words, rest } = sentence(input);
    const arg = quotedArg(rest);
    const n = Number(output);
    assert.ok(Number.isInteger(n) && n >= 1, `count ${output} should be a positive integer (the letter or length occurs)`);
    assert.equal(n, words.filter((w) => pred(w, arg)).length);
  };
}

function sortedUniqueChecker(isWanted: (c: string) => boolean, fromTokens: (tokens: string[]) => string[]): Checker {
  return (input, output) => {
    const chars = fromTokens(quoted(input)).filter(isWanted);
    if (chars.length === 0) return assert.equal(output, '-1');
    const out = joined(output);
    for (let i = 1; i < out.length; i++) assert.ok(out[i - 1] < out[i], `${output} is not strictly increasing`);
    assert.ok(out.every((c) => chars.includes(c)), `${output} holds a character not in the input`);
    assert.ok(chars.every((c) => out.includes(c)), `${output} misses a character of the input`);
  };
}

const CHECKERS: Record<string, Checker> = {
  // ---- int-filter
  task205_remove_even_elements: keeps((x) => !isEven(x)),
  task369_synthetic_remove_odds: keeps(isEven),
  task370_synthetic_remove_divisible_by_3: keeps((x) => Math.abs(x) % 3 !== 0),
  task367_synthetic_remove_floats: keeps((x) => Math.floor(x) === x),
  task366_synthetic_return_primes: keeps((x) => x > 0 && x <= 1000 && PRIME[x]),
  task372_synthetic_palindrome_numbers: keeps((x) => firstDigit(x) === Math.abs(x) % 10),
  builtin_remove_negatives: keeps((x) => x >= 0),
  task1150_delete_max_min: (input, output) => {
    const xs = nums(input);
    const out = nums(output);
    const hi = Math.max(...xs);
    const lo = Math.min(...xs);
    assert.equal(out.length, xs.length - 2);
    assert.ok(!out.includes(hi) && !out.includes(lo));
    assert.ok(isSubsequence(out, xs));
  },
  // ---- int-map
  task368_synthetic_even_or_odd_calculation: (input, output) => {
    const xs = nums(input);
    const tokens = output.slice(1, -1).split(', ');
    assert.equal(tokens.length, xs.length);
    xs.forEach((x, i) => {
      if (isEven(x)) {
        assert.ok(tokens[i].includes('.'), `even ${x} -> ${tokens[i]} should be printed as a float`);
        assert.equal(Number(tokens[i]) * 4, x);
      } else {
        assert.ok(!tokens[i].includes('.'), `odd ${x} -> ${tokens[i]} should be an integer`);
        assert.equal((Number(tokens[i]) - 2) / 4, x);
      }
    });
  },
  task374_synthetic_pos_or_neg_calculation: elementwise((x) => (x > 0 ? x * 2 : x < 0 ? x * -3 : 0)),
  builtin_absolute_values: elementwise((x) => (x < 0 ? -x : x)),
  task1190_add_integer_to_list: (input, output) => {
    const { xs, k } = withK(input, ' k=');
    const out = nums(output);
    assert.equal(out.length, xs.length);
    out.forEach((y, i) => assert.equal(y - xs[i], k));
  },
  builtin_subtract_integer_from_list: (input, output) => {
    const { xs, k } = withK(input, ' k=');
    const out = nums(output);
    assert.equal(out.length, xs.length);
    out.forEach((y, i) => assert.equal(xs[i] - y, k));
  },
  task1088_array_of_products: (input, output) => {
    const xs = nums(input);
    const out = nums(output);
    assert.equal(out.length, xs.length);
    out.forEach((y, i) => {
      let p = 1n;
      xs.forEach((x, j) => (j !== i ? (p *= BigInt(x)) : undefined));
      assert.equal(BigInt(y), p);
    });
  },
  // ---- int-select
  task1405_find_median: (input, output) => {
    const xs = nums(input);
    const m = Number(output);
    assert.ok(xs.includes(m));
    assert.equal(xs.filter((x) => x < m).length, xs.filter((x) => x > m).length);
  },
  task1406_kth_smallest_element: (input, output) => {
    const { xs, k } = withK(input, ', k=');
    const m = Number(output);
    assert.ok(xs.includes(m) && k >= 1 && k <= xs.length);
    assert.equal(xs.filter((x) => x < m).length, k - 1);
  },
  task1194_kth_largest_element: (input, output) => {
    const { xs, k } = withK(input, ', k=');
    const m = Number(output);
    assert.ok(xs.includes(m) && k >= 1 && k <= xs.length);
    assert.equal(xs.filter((x) => x > m).length, k - 1);
  },
  task1445_closest_integers: (input, output) => assert.equal(Number(output), Math.min(...allPairs(nums(input)))),
  task1446_farthest_integers: (input, output) => assert.equal(Number(output), Math.max(...allPairs(nums(input)))),
  builtin_max_element: (input, output) => {
    const xs = nums(input);
    const m = Number(output);
    assert.ok(xs.includes(m) && xs.every((x) => x <= m));
  },
  builtin_min_element: (input, output) => {
    const xs = nums(input);
    const m = Number(output);
    assert.ok(xs.includes(m) && xs.every((x) => x >= m));
  },
  builtin_sum_list: (input, output) => {
    let s = 0;
    for (const x of nums(input)) s += x;
    assert.equal(Number(output), s);
  },
  // ---- int-reorder
  builtin_sort_ascending: (input, output) => {
    const out = nums(output);
    assert.ok(sameMultiset(out, nums(input)));
    for (let i = 1; i < out.length; i++) assert.ok(out[i - 1] <= out[i], `${output} is not ascending`);
  },
  builtin_sort_descending: (input, output) => {
    const out = nums(output);
    assert.ok(sameMultiset(out, nums(input)));
    for (let i = 1; i < out.length; i++) assert.ok(out[i - 1] >= out[i], `${output} is not descending`);
  },
  builtin_reverse_list: (input, output) => {
    const xs = nums(input);
    const out = nums(output);
    assert.equal(out.length, xs.length);
    out.forEach((y, i) => assert.equal(y, xs[xs.length - 1 - i]));
  },
  // ---- nested-list
  task851_synthetic_multiply_evens: perInner((inner) => productWhere(inner, isEven)),
  task852_synthetic_multiply_odds: perInner((inner) => productWhere(inner, (x) => !isEven(x))),
  task207_max_element_lists: perInner((inner) => inner.reduce((a, b) => (b > a ? b : a))),
  builtin_min_element_lists: perInner((inner) => inner.reduce((a, b) => (b < a ? b : a))),
  builtin_sum_inner_lists: perInner((inner) => inner.reduce((a, b) => a + b, 0)),
  // ---- list-slice (1-based positions)
  task063_first_i_elements: (input, output) => {
    const { ints: [i], list } = prefixAndList(input, 1);
    assert.ok(i >= 1 && i < list.length);
    assert.deepEqual(joined(output), list.filter((_, p) => p < i));
  },
  task064_all_elements_except_first_i: (input, output) => {
    const { ints: [i], list } = prefixAndList(input, 1);
    assert.ok(i >= 1 && i < list.length);
    assert.deepEqual(joined(output), list.filter((_, p) => p >= i));
  },
  task078_all_elements_except_last_i: (input, output) => {
    const { ints: [i], list } = prefixAndList(input, 1);
    assert.ok(i >= 1 && i < list.length);
    assert.deepEqual(joined(output), list.filter((_, p) => p < list.length - i));
  },
  builtin_last_i_elements: (input, output) => {
    const { ints: [i], list } = prefixAndList(input, 1);
    assert.ok(i >= 1 && i < list.length);
    assert.deepEqual(joined(output), list.filter((_, p) => p >= list.length - i));
  },
  task099_reverse_elements_between_index_i_and_j: (input, output) => {
    const { ints: [i, j], list } = prefixAndList(input, 2);
    assert.ok(i >= 1 && i < j && j <= list.length, `bad i=${i}, j=${j} for ${list.length} elements`);
    const out = joined(output);
    assert.equal(out.length, j - i + 1);
    out.forEach((x, p) => assert.equal(x, list[j - 1 - p]));
  },
  // ---- mixed-list
  task488_extract_all_alphabetical_elements_from_list_in_order: (input, output) => {
    const list = quoted(input);
    const out = joined(output);
    assert.ok(out.every((t) => !isNumberToken(t)) && isSubsequence(out, list));
    assert.equal(out.length, list.filter((t) => !isNumberToken(t)).length);
  },
  task497_extract_all_numbers_from_list_in_order: (input, output) => {
    const list = quoted(input);
    const out = joined(output);
    assert.ok(out.every(isNumberToken) && isSubsequence(out, list));
    assert.equal(out.length, list.filter(isNumberToken).length);
  },
  task499_extract_and_add_all_numbers_from_list: (input, output) => {
    let s = 0;
    for (const t of quoted(input)) if (isNumberToken(t)) s += parseInt(t, 10);
    assert.equal(output, String(s));
  },
  task504_count_all_alphabetical_elements_in_list: (input, output) =>
    assert.equal(Number(output), quoted(input).filter((t) => /^[A-Za-z]$/.test(t)).length),
  task505_count_all_numerical_elements_in_list: (input, output) =>
    assert.equal(Number(output), quoted(input).filter((t) => /^[0-9]+$/.test(t)).length),
  task636_extract_and_sort_unique_alphabets_in_a_list: sortedUniqueChecker(
    (c) => c >= 'a' && c <= 'z',
    (tokens) => tokens.filter((t) => !isNumberToken(t)),
  ),
  task637_extract_and_sort_unique_digits_in_a_list: sortedUniqueChecker(
    (c) => c >= '0' && c <= '9',
    (tokens) => tokens.filter(isNumberToken).flatMap((t) => t.split('')),
  ),
  // ---- sentence
  task376_reverse_order_of_words: (input, output) => {
    const { words } = sentence(input);
    const out = output.split(' ');
    assert.equal(out.length, words.length);
    out.forEach((w, i) => assert.equal(w, words[words.length - 1 - i]));
  },
  task377_remove_words_of_given_length: (input, output) => {
    const { words, rest } = sentence(input);
    const k = Number(quotedArg(rest));
    const out = output === '' ? [] : output.split(' ');
    assert.ok(words.some((w) => w.length === k), `no word of length ${k}`);
    assert.ok(out.every((w) => w.length !== k) && isSubsequence(out, words));
    assert.equal(out.length, words.filter((w) => w.length !== k).length);
  },
  task378_reverse_words_of_given_length: (input, output) => {
    const { words, rest } = sentence(input);
    const k = Number(quotedArg(rest));
    const out = output.split(' ');
    assert.equal(out.length, words.length);
    words.forEach((w, i) => {
      if (w.length !== k) return assert.equal(out[i], w);
      for (let c = 0; c < k; c++) assert.equal(out[i][c], w[k - 1 - c]);
    });
  },
  task160_replace_letter_in_a_sentence: (input, output) => {
    const { words, rest } = sentence(input);
    const from = quotedArg(rest, 0);
    const to = quotedArg(rest, 1);
    const s = words.join(' ');
    assert.notEqual(from, to);
    assert.ok(s.includes(from), `letter '${from}' does not occur`);
    assert.equal(output.length, s.length);
    for (let c = 0; c < s.length; c++) assert.equal(output[c], s[c] === from ? to : s[c]);
  },
  task162_count_words_starting_with_letter: countWords((w, c) => w[0] === c),
  builtin_count_words_ending_with_letter: countWords((w, c) => w[w.length - 1] === c),
  builtin_count_words_of_given_length: countWords((w, k) => w.length === Number(k)),
  // ---- char-string
  task365_synthetic_remove_vowels: (input, output) => {
    assert.ok(![...output].some(isVowel) && isSubsequence([...output], [...input]));
    assert.equal(output.length, [...input].filter((c) => !isVowel(c)).length);
  },
  builtin_remove_consonants: (input, output) => {
    assert.ok(output.length > 0 && [...output].every(isVowel) && isSubsequence([...output], [...input]));
    assert.equal(output.length, [...input].filter(isVowel).length);
  },
  task1148_maximum_ascii_value: (input, output) => {
    assert.equal(new Set(input).size, input.length, 'characters should be unique');
    assert.ok(output.length === 1 && input.includes(output));
    for (const c of input) assert.ok(c.charCodeAt(0) <= output.charCodeAt(0));
  },
  builtin_min_ascii_value: (input, output) => {
    assert.equal(new Set(input).size, input.length, 'characters should be unique');
    assert.ok(output.length === 1 && input.includes(output));
    for (const c of input) assert.ok(c.charCodeAt(0) >= output.charCodeAt(0));
  },
  builtin_reverse_string: (input, output) => {
    assert.equal(output.length, input.length);
    for (let i = 0; i < input.length; i++) assert.equal(output[i], input[input.length - 1 - i]);
  },
  task850_synthetic_longest_palindrome: (input, output) => {
    const at = input.indexOf(output);
    const L = output.length;
    assert.ok(L >= 1 && at >= 0 && isPalindrome(output), `${output} is not a palindromic substring`);
    // a palindrome longer than L would contain one of length L + 1 or L + 2 (strip both ends)
    for (const len of [L + 1, L + 2])
      for (let s = 0; s + len <= input.length; s++)
        assert.ok(!isPalindrome(input.slice(s, s + len)), `longer palindrome ${input.slice(s, s + len)}`);
    for (let s = 0; s < at; s++) assert.ok(!isPalindrome(input.slice(s, s + L)), 'an earlier palindrome of the same length');
  },
  task079_conala_concat_strings: (input, output) => {
    const tokens = quoted(input);
    assert.equal(output.length, tokens.reduce((n, t) => n + t.length, 0));
    let at = 0;
    for (const t of tokens) {
      assert.ok(output.startsWith(t, at), `token ${t} missing at ${at}`);
      at += t.length;
    }
  },
};

const N = 300;

test('every built-in task has a checker here, and every checker a task', () => {
  assert.deepEqual(Object.keys(CHECKERS).sort(), listBuiltinTasks().map((t) => t.name).sort());
});

for (const info of listBuiltinTasks()) {
  test(`${info.name}: ${N} instances and the positive examples obey the definition`, () => {
    const check = CHECKERS[info.name];
    assert.ok(check, `no checker for ${info.name}`);
    const task = builtinTask(info.name, { instances: N, seed: 1 });
    for (const ex of task.positiveExamples) {
      try {
        check(ex.input, ex.output);
      } catch (e) {
        assert.fail(`positive example ${JSON.stringify(ex.input)} -> ${JSON.stringify(ex.output)}: ${(e as Error).message}`);
      }
    }
    for (const inst of task.instances) {
      assert.equal(inst.output.length, 1);
      try {
        check(inst.input, inst.output[0]);
      } catch (e) {
        assert.fail(`${inst.id} ${JSON.stringify(inst.input)} -> ${JSON.stringify(inst.output[0])}: ${(e as Error).message}`);
      }
    }
  });
}

test('the checkers reject wrong answers (they are not vacuous)', () => {
  const wrong: [string, string, string][] = [
    ['task205_remove_even_elements', '[3, 4, 5]', '[3, 4, 5]'],
    ['task205_remove_even_elements', '[3, 4, 5]', '[5, 3]'],
    ['task1405_find_median', '[1, 2, 3, 4, 5]', '2'],
    ['task1194_kth_largest_element', '[5, 9, 1], k=1', '1'],
    ['task368_synthetic_even_or_odd_calculation', '[4, 3]', '[1, 14]'],
    ['task099_reverse_elements_between_index_i_and_j', "1, 3, ['z', 'h', 'Y', 'U']", 'z, h, Y'],
    ['task636_extract_and_sort_unique_alphabets_in_a_list', "['b', '3', 'a']", 'b, a'],
    ['task637_extract_and_sort_unique_digits_in_a_list', "['b', 'a']", ''],
    ['task850_synthetic_longest_palindrome', 'abaxyzzyx', 'aba'],
    ['task850_synthetic_longest_palindrome', 'xabcbaqcdc', 'cdc'],
    ['task378_reverse_words_of_given_length', "Sentence: 'a big dog'. Reverse all words of length '3' in the given sentence.", 'a gib dog'],
    ['task160_replace_letter_in_a_sentence', "Sentence: 'a cat'. Replace the letter 'a' with 'o' in the sentence.", 'o cat'],
  ];
  for (const [name, input, output] of wrong)
    assert.throws(() => CHECKERS[name](input, output), assert.AssertionError, `${name}: ${input} -> ${output} should be rejected`);
});
