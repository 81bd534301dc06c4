/**
 * Exact match as Super-NaturalInstructions' compute_metrics.py computes it: SQuAD's
 * normalize_answer without the article removal, maximised over the references.
 */

/** Python's string.punctuation (ASCII only). */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/**
 * The characters Python's str.split() splits on (str.isspace()). Unlike JS `\s` this includes
 * U+001C..U+001F and U+0085 and excludes U+FEFF.
 */
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** lowercase, drop ASCII punctuation, collapse whitespace (`' '.join(s.split())`). */
export function normalizeAnswer(s: string): string {
  return s
    .toLowerCase()
    .replace(PUNCTUATION, '')
    .split(PY_WHITESPACE)
    .filter((w) => w !== '')
    .join(' ');
}

/** 1 when the normalized prediction equals some normalized reference, else 0. */
export function exactMatch(prediction: string, references: readonly string[]): 0 | 1 {
  if (references.length === 0) throw new RangeError('exactMatch: references must not be empty');
  const p = normalizeAnswer(prediction);
  return references.some((r) => normalizeAnswer(r) === p) ? 1 : 0;
}
