/**
 * The Porter stemmer as NLTK's `PorterStemmer()` runs it by default (mode NLTK_EXTENSIONS):
 * Porter (1980), "An algorithm for suffix stripping", plus Martin Porter's later changes and
 * NLTK's own (irregular-forms pool, 'ies'/'ied' on 4-letter words, the step 1c y->i rule,
 * 'alli' first in step 2, 'bli', 'fulli', 'logi', the two-letter *o case, no stemming of words
 * of length <= 2, lowercased output).
 *
 * Rule lists keep NLTK's first-match semantics: the first rule whose suffix matches decides; if
 * its condition fails the word is returned unchanged (later rules are not tried).
 *
 * Verified identical to NLTK 3.8 on words of [a-z0-9] (what the Rouge tokenizer feeds it); see
 * docs/metrics.md and test/fixtures/porter-golden.json.
 */

type Condition = ((stem: string) => boolean) | null;
type Rule = readonly [suffix: string, replacement: string, condition: Condition];

/** NLTK's irregular forms: word -> stem, applied before any rule. */
const IRREGULAR: ReadonlyMap<string, string> = new Map([
  ['sky', 'sky'],
  ['skies', 'sky'],
  ['dying', 'die'],
  ['lying', 'lie'],
  ['tying', 'tie'],
  ['news', 'news'],
  ['innings', 'inning'],
  ['inning', 'inning'],
  ['outings', 'outing'],
  ['outing', 'outing'],
  ['cannings', 'canning'],
  ['canning', 'canning'],
  ['howe', 'howe'],
  ['proceed', 'proceed'],
  ['exceed', 'exceed'],
  ['succeed', 'succeed'],
]);

function isVowelLetter(c: string): boolean {
  return c === 'a' || c === 'e' || c === 'i' || c === 'o' || c === 'u';
}

/** Porter's consonant: not a, e, i, o, u, and not a 'y' that follows a consonant. */
function isConsonant(word: string, i: number): boolean {
  const c = word[i];
  if (isVowelLetter(c)) return false;
  if (c === 'y') return i === 0 || !isConsonant(word, i - 1);
  return true;
}

/** m in [C](VC){m}[V]: the number of vowel-to-consonant transitions. */
function measure(stem: string): number {
  let m = 0;
  let prevConsonant = true;
  let prevVowel = false;
  for (let i = 0; i < stem.length; i++) {
    const c = stem[i];
    const consonant: boolean = isVowelLetter(c) ? false : c === 'y' ? i === 0 || !prevConsonant : true;
    if (consonant && prevVowel) m++;
    prevConsonant = consonant;
    prevVowel = !consonant;
  }
  return m;
}

const positiveMeasure = (stem: string): boolean => measure(stem) > 0;
const measureAbove1 = (stem: string): boolean => measure(stem) > 1;

function containsVowel(stem: string): boolean {
  for (let i = 0; i < stem.length; i++) if (!isConsonant(stem, i)) return true;
  return false;
}

/** *d: ends with a double consonant. */
function endsDoubleConsonant(word: string): boolean {
  const n = word.length;
  return n >= 2 && word[n - 1] === word[n - 2] && isConsonant(word, n - 1);
}

/** *o: ends consonant-vowel-consonant, the last not w, x or y; NLTK adds a two-letter vowel-consonant word. */
function endsCvc(word: string): boolean {
  const n = word.length;
  if (n >= 3) {
    const last = word[n - 1];
    return (
      isConsonant(word, n - 3) &&
      !isConsonant(word, n - 2) &&
      isConsonant(word, n - 1) &&
      last !== 'w' &&
      last !== 'x' &&
      last !== 'y'
    );
  }
  return n === 2 && !isConsonant(word, 0) && isConsonant(word, 1);
}

function applyRules(word: string, rules: readonly Rule[]): string {
  for (const [suffix, replacement, condition] of rules) {
    if (!word.endsWith(suffix)) continue;
    const stem = word.slice(0, word.length - suffix.length);
    return condition === null || condition(stem) ? stem + replacement : word;
  }
  return word;
}

const STEP1A: readonly Rule[] = [
  ['sses', 'ss', null],
  ['ies', 'i', null],
  ['ss', 'ss', null],
  ['s', '', null],
];

function step1a(word: string): string {
  if (word.length === 4 && word.endsWith('ies')) return word.slice(0, 1) + 'ie';
  return applyRules(word, STEP1A);
}

function step1b(word: string): string {
  if (word.endsWith('ied')) return word.slice(0, -3) + (word.length === 4 ? 'ie' : 'i');
  if (word.endsWith('eed')) {
    const stem = word.slice(0, -3);
    return measure(stem) > 0 ? stem + 'ee' : word;
  }
  let stem: string;
  if (word.endsWith('ed') && containsVowel(word.slice(0, -2))) stem = word.slice(0, -2);
  else if (word.endsWith('ing') && containsVowel(word.slice(0, -3))) stem = word.slice(0, -3);
  else return word;

  // After -ed/-ing: restore -e on at/bl/iz, undouble a final double consonant (not l, s, z),
  // or add -e to a short cvc stem.
  if (stem.endsWith('at') || stem.endsWith('bl') || stem.endsWith('iz')) return stem + 'e';
  if (endsDoubleConsonant(stem)) {
    const last = stem[stem.length - 1];
    return last === 'l' || last === 's' || last === 'z' ? stem : stem.slice(0, -1);
  }
  return measure(stem) === 1 && endsCvc(stem) ? stem + 'e' : stem;
}

/** NLTK: y -> i when preceded by a consonant that is not the whole stem. */
function step1c(word: string): string {
  if (!word.endsWith('y')) return word;
  const stem = word.slice(0, -1);
  return stem.length > 1 && isConsonant(stem, stem.length - 1) ? stem + 'i' : word;
}

const STEP2_FIXED: readonly Rule[] = [
  ['ational', 'ate', positiveMeasure],
  ['tional', 'tion', positiveMeasure],
  ['enci', 'ence', positiveMeasure],
  ['anci', 'ance', positiveMeasure],
  ['izer', 'ize', positiveMeasure],
  ['bli', 'ble', positiveMeasure],
  ['alli', 'al', positiveMeasure],
  ['entli', 'ent', positiveMeasure],
  ['eli', 'e', positiveMeasure],
  ['ousli', 'ous', positiveMeasure],
  ['ization', 'ize', positiveMeasure],
  ['ation', 'ate', positiveMeasure],
  ['ator', 'ate', positiveMeasure],
  ['alism', 'al', positiveMeasure],
  ['iveness', 'ive', positiveMeasure],
  ['fulness', 'ful', positiveMeasure],
  ['ousness', 'ous', positiveMeasure],
  ['aliti', 'al', positiveMeasure],
  ['iviti', 'ive', positiveMeasure],
  ['biliti', 'ble', positiveMeasure],
  ['fulli', 'ful', positiveMeasure],
];

function step2(word: string): string {
  // NLTK applies alli -> al first and, if it fires, runs step 2 again on the result.
  if (word.endsWith('alli') && positiveMeasure(word.slice(0, -4))) return step2(word.slice(0, -4) + 'al');
  // 'logi' -> 'log' keeps the 'l' with the stem for the measure, so 'geologi' -> 'geolog'.
  const rules: readonly Rule[] = [...STEP2_FIXED, ['logi', 'log', () => positiveMeasure(word.slice(0, -3))]];
  return applyRules(word, rules);
}

const STEP3: readonly Rule[] = [
  ['icate', 'ic', positiveMeasure],
  ['ative', '', positiveMeasure],
  ['alize', 'al', positiveMeasure],
  ['iciti', 'ic', positiveMeasure],
  ['ical', 'ic', positiveMeasure],
  ['ful', '', positiveMeasure],
  ['ness', '', positiveMeasure],
];

const STEP4: readonly Rule[] = [
  ['al', '', measureAbove1],
  ['ance', '', measureAbove1],
  ['ence', '', measureAbove1],
  ['er', '', measureAbove1],
  ['ic', '', measureAbove1],
  ['able', '', measureAbove1],
  ['ible', '', measureAbove1],
  ['ant', '', measureAbove1],
  ['ement', '', measureAbove1],
  ['ment', '', measureAbove1],
  ['ent', '', measureAbove1],
  ['ion', '', (stem) => measure(stem) > 1 && (stem.endsWith('s') || stem.endsWith('t'))],
  ['ou', '', measureAbove1],
  ['ism', '', measureAbove1],
  ['ate', '', measureAbove1],
  ['iti', '', measureAbove1],
  ['ous', '', measureAbove1],
  ['ive', '', measureAbove1],
  ['ize', '', measureAbove1],
];

/** Drop a final -e when m > 1, or when m = 1 and the stem does not end cvc. */
function step5a(word: string): string {
  if (!word.endsWith('e')) return word;
  const stem = word.slice(0, -1);
  const m = measure(stem);
  return m > 1 || (m === 1 && !endsCvc(stem)) ? stem : word;
}

/** -ll -> -l when m > 1 (measured on the word less its last letter). */
function step5b(word: string): string {
  return word.endsWith('ll') && measure(word.slice(0, -1)) > 1 ? word.slice(0, -1) : word;
}

/** The stem NLTK's `PorterStemmer().stem(word)` returns (lowercased). */
export function porterStem(word: string): string {
  const irregular = IRREGULAR.get(word);
  if (irregular !== undefined) return irregular;
  const lower = word.toLowerCase();
  if (word.length <= 2) return lower;
  let w = step1a(lower);
  w = step1b(w);
  w = step1c(w);
  w = step2(w);
  w = applyRules(w, STEP3);
  w = applyRules(w, STEP4);
  w = step5a(w);
  return step5b(w);
}
