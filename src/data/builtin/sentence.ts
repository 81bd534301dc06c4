/** Word-level tasks on lowercase captions: `Sentence: '...'` plus a question about its words. */
import type { Rng } from '../../util/rng.js';
import type { BuiltinSpec, Sample } from './spec.js';
import { LOWER } from './draw.js';
import { caption } from './words.js';

function sentenceTask(
  name: string,
  mirrors: boolean,
  description: string,
  definition: string,
  sample: (rng: Rng, words: string[]) => Sample,
): BuiltinSpec {
  return {
    name,
    group: 'string',
    family: 'sentence',
    mirrors,
    description,
    definition,
    sample: (rng) => sample(rng, caption(rng).split(' ')),
  };
}

const quote = (words: string[]) => `Sentence: '${words.join(' ')}'`;
const reverse = (w: string) => [...w].reverse().join('');
/** A word length that occurs in the sentence. */
const someLength = (rng: Rng, words: string[]) => rng.pick([...new Set(words.map((w) => w.length))].sort((a, b) => a - b));
/** A letter that starts (or ends) some word of the sentence. */
const someInitial = (rng: Rng, words: string[], last = false) =>
  rng.pick([...new Set(words.map((w) => (last ? w[w.length - 1] : w[0])))].sort());

export const SENTENCE_TASKS: BuiltinSpec[] = [
  sentenceTask(
    'task376_reverse_order_of_words',
    true,
    'reverse the order of the words of a sentence',
    'In this task, you need to reverse the order of words in the given sentence.',
    (_rng, words) => ({ input: quote(words), output: [...words].reverse().join(' ') }),
  ),
  sentenceTask(
    'task377_remove_words_of_given_length',
    true,
    'remove the words of a given length from a sentence',
    'In this task, you need to remove all words of a given length in the sentence. The number of letters in a word determines its length; for example, the length of the word "apple" is 5.',
    (rng, words) => {
      const k = someLength(rng, words);
      return {
        input: `${quote(words)}. Remove all words of length '${k}' in the given sentence.`,
        output: words.filter((w) => w.length !== k).join(' '),
      };
    },
  ),
  sentenceTask(
    'task378_reverse_words_of_given_length',
    true,
    'reverse the letters of the words of a given length in a sentence',
    'In this task, you need to reverse all words of a given length in the sentence. The number of letters in a word determines its length. For example, the length of the word "apple" is 5.',
    (rng, words) => {
      const k = someLength(rng, words);
      return {
        input: `${quote(words)}. Reverse all words of length '${k}' in the given sentence.`,
        output: words.map((w) => (w.length === k ? reverse(w) : w)).join(' '),
      };
    },
  ),
  sentenceTask(
    'task160_replace_letter_in_a_sentence',
    true,
    'replace every occurrence of a letter in a sentence by another letter',
    'In this task, you need to replace a letter in the sentence with another given letter.',
    (rng, words) => {
      const s = words.join(' ');
      const from = rng.pick([...new Set(s.replace(/ /g, ''))].sort());
      const to = rng.pick([...LOWER].filter((c) => c !== from));
      return {
        input: `${quote(words)}. Replace the letter '${from}' with '${to}' in the sentence.`,
        output: s.split(from).join(to),
      };
    },
  ),
  sentenceTask(
    'task162_count_words_starting_with_letter',
    true,
    'count the words of a sentence that start with a given letter',
    'In this task, you need to count the number of words in a sentence that start with the given letter. Answer with numbers and not words.',
    (rng, words) => {
      const c = someInitial(rng, words);
      return {
        input: `${quote(words)}. How many words start with the letter '${c}' in the sentence.`,
        output: String(words.filter((w) => w.startsWith(c)).length),
      };
    },
  ),
  sentenceTask(
    'builtin_count_words_ending_with_letter',
    false,
    'count the words of a sentence that end with a given letter',
    'In this task, you need to count the number of words in a sentence that end with the given letter. Answer with numbers and not words.',
    (rng, words) => {
      const c = someInitial(rng, words, true);
      return {
        input: `${quote(words)}. How many words end with the letter '${c}' in the sentence.`,
        output: String(words.filter((w) => w.endsWith(c)).length),
      };
    },
  ),
  sentenceTask(
    'builtin_count_words_of_given_length',
    false,
    'count the words of a given length in a sentence',
    'In this task, you need to count the number of words of a given length in the sentence. The number of letters in a word determines its length; for example, the length of the word "apple" is 5. Answer with numbers and not words.',
    (rng, words) => {
      const k = someLength(rng, words);
      return {
        input: `${quote(words)}. How many words of length '${k}' are in the given sentence.`,
        output: String(words.filter((w) => w.length === k).length),
      };
    },
  ),
];
