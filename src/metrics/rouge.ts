/**
 * Rouge-L as Google's `rouge_score` computes it for Super-NaturalInstructions:
 * `RougeScorer(['rougeL'], use_stemmer=True).score(target=reference, prediction=prediction)`,
 * F-measure, maximised over the references.
 */
import { porterStem } from './porter-stemmer.js';

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

const STEM_CACHE_LIMIT = 100_000;
const stemCache = new Map<string, string>();

function cachedStem(token: string): string {
  let stem = stemCache.get(token);
  if (stem === undefined) {
    if (stemCache.size >= STEM_CACHE_LIMIT) stemCache.clear();
    stem = porterStem(token);
    stemCache.set(token, stem);
  }
  return stem;
}

/**
 * rouge_score's tokenize with a stemmer: lowercase, every run of characters outside [a-z0-9]
 * (non-ASCII letters included) separates tokens, tokens longer than 3 characters are stemmed.
 */
export function rougeTokenize(text: string): string[] {
  const tokens = text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  // rouge_score drops tokens that are not [a-z0-9]+ after stemming; a stem is never empty, but keep the check.
  return tokens.map((t) => (t.length > 3 ? cachedStem(t) : t)).filter((t) => t.length > 0);
}

/** Length of the longest common subsequence of two token lists. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Int32Array(b.length + 1);
  let cur = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    const ai = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = ai === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/** rouge_score's fmeasure: harmonic mean, 0 when precision + recall is 0. */
function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

/** rouge_score's _score_lcs on token lists: a side with no tokens scores 0. */
function scoreTokens(target: readonly string[], prediction: readonly string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(target, prediction);
  const precision = lcs / prediction.length;
  const recall = lcs / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Rouge-L precision, recall and F of a prediction against one target (reference). */
export function rougeLScore(target: string, prediction: string): RougeScore {
  return scoreTokens(rougeTokenize(target), rougeTokenize(prediction));
}

/** Rouge-L F-measure of a prediction against one reference, a fraction in [0, 1]. */
export function rougeL(prediction: string, reference: string): number {
  return rougeLScore(reference, prediction).fmeasure;
}

/** Rouge-L F-measure maximised over the references (NI's metric_max_over_ground_truths). */
export function rougeLMax(prediction: string, references: readonly string[]): number {
  if (references.length === 0) throw new RangeError('rougeLMax: references must not be empty');
  const predictionTokens = rougeTokenize(prediction);
  let best = 0;
  for (const r of references) best = Math.max(best, scoreTokens(rougeTokenize(r), predictionTokens).fmeasure);
  return best;
}
