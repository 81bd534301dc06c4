/**
 * Train a byte-level BPE tokenizer (GPT-2 style, numbers cut into single digits or groups of up
 * to three; see byte-level.ts).
 *
 * 1. Split each text on the special tokens (they are never learned from), pre-tokenize the rest
 *    and count distinct pre-tokens: a corpus of megabytes becomes a few thousand weighted words.
 * 2. Start from the 256 bytes, count adjacent pairs over the weighted words, and repeatedly merge
 *    the most frequent pair. Only the words that hold the merged pair are touched, and only the
 *    counts of the pairs around each occurrence change; a max-heap with lazy re-insertion finds
 *    the next best pair. Ties go to the pair of smaller ids (older tokens), so the result depends
 *    on the corpus only, not on the order of texts.
 *
 * Ids: special tokens first (0..k-1, in the given order), then the 256 bytes (k + byte value),
 * then learned tokens in the order they were learned.
 */
import { UsageError } from '../util/errors.js';
import { BYTE_TO_CHAR, preTokenize, splitOnSpecials, utf8Bytes, type NumberSplit } from './byte-level.js';
import { buildTokenizerFiles, type TrainedTokenizer } from './format.js';

export interface TrainBpeOptions {
  /** Total vocabulary, special tokens and the 256 bytes included. */
  vocabSize: number;
  /** E.g. ['<|endoftext|>']: recognised in text as single tokens, given the first ids. */
  specialTokens: string[];
  /** A pair seen fewer times than this is never merged (default 2); training may stop early. */
  minFrequency?: number;
  /** tokenizer_config.json model_max_length (default 1024). */
  modelMaxLength?: number;
  /** Default: the first special token. */
  eosToken?: string;
  /** Default: the EOS token (as GPT-2). */
  bosToken?: string;
  /** Default: none written, so transformers.js pads with EOS. */
  padToken?: string;
  /** How numbers are pre-tokenized (default 'digits'; byte-level.ts). */
  numbers?: NumberSplit;
}

export function trainBpeTokenizer(texts: Iterable<string>, opts: TrainBpeOptions): TrainedTokenizer {
  const specials = checkSpecials(opts);
  const minFrequency = opts.minFrequency ?? 2;
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new UsageError(`tokenizer training: minFrequency: expected an integer >= 1, got ${minFrequency}`);
  }
  const split = opts.numbers ?? 'digits';
  const wordCounts = countPreTokens(texts, specials, split);
  const { tokens, merges } = learnMerges(wordCounts, opts.vocabSize - specials.length, minFrequency);
  const eosToken = opts.eosToken ?? specials[0]!;
  const roles = {
    eosToken,
    bosToken: opts.bosToken ?? eosToken,
    padToken: opts.padToken,
    modelMaxLength: opts.modelMaxLength ?? 1024,
  };
  for (const [key, tok] of Object.entries(roles)) {
    if (typeof tok === 'string' && !specials.includes(tok)) {
      throw new UsageError(`tokenizer training: ${key} "${tok}" must be one of specialTokens`);
    }
  }
  const learned = new Set(tokens);
  const clash = specials.find((s) => learned.has(s));
  if (clash !== undefined) {
    throw new UsageError(`tokenizer training: special token "${clash}" is spelled like a byte-level token`);
  }
  return buildTokenizerFiles([...specials, ...tokens], merges, specials, roles, split);
}

function checkSpecials(opts: TrainBpeOptions): string[] {
  const specials = opts.specialTokens;
  if (specials.length === 0) throw new UsageError('tokenizer training: specialTokens: expected at least one (EOS)');
  if (specials.some((s) => s.length === 0)) throw new UsageError('tokenizer training: specialTokens: empty token');
  if (new Set(specials).size !== specials.length) throw new UsageError('tokenizer training: specialTokens: duplicates');
  const min = 256 + specials.length;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < min) {
    throw new UsageError(`tokenizer training: vocabSize: expected an integer >= ${min} (256 bytes + special tokens), got ${opts.vocabSize}`);
  }
  return [...specials];
}

/** Distinct pre-tokens and how often each occurs (special tokens cut out). */
export function countPreTokens(texts: Iterable<string>, specials: readonly string[], split: NumberSplit = 'digits'): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of splitOnSpecials(text, specials)) {
      if (typeof piece !== 'string') continue;
      for (const w of preTokenize(piece, split)) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * Learn merges until there are `maxTokens` tokens (256 bytes + learned) or no pair is seen
 * `minFrequency` times. Returns every token's byte-level spelling by internal id (byte b = id b)
 * and the merges in order.
 */
function learnMerges(
  wordCounts: Map<string, number>,
  maxTokens: number,
  minFrequency: number,
): { tokens: string[]; merges: Array<[string, string]> } {
  const tokens = [...BYTE_TO_CHAR];
  const idOf = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const merges: Array<[string, string]> = [];

  const words: number[][] = [];
  const freq: number[] = [];
  for (const [w, f] of wordCounts) {
    const bytes = utf8Bytes(w);
    if (bytes.length < 2) continue; // nothing to merge inside
    words.push(Array.from(bytes));
    freq.push(f);
  }

  // A pair (a, b) is the number a * K + b; K bounds every id, so keys stay small integers.
  const K = Math.max(maxTokens, 256);
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>(); // words that hold (or once held) the pair
  const heap = new PairHeap();
  const touched = new Set<number>();

  const add = (key: number, delta: number, w: number) => {
    const c = (pairCount.get(key) ?? 0) + delta;
    if (c > 0) pairCount.set(key, c);
    else pairCount.delete(key);
    if (delta > 0) {
      touched.add(key);
      const list = pairWords.get(key);
      if (!list) pairWords.set(key, [w]);
      else if (list[list.length - 1] !== w) list.push(w);
    }
  };

  for (let w = 0; w < words.length; w++) {
    const s = words[w]!;
    for (let i = 0; i + 1 < s.length; i++) add(s[i]! * K + s[i + 1]!, freq[w]!, w);
  }
  for (const key of touched) heap.push(pairCount.get(key)!, key);
  touched.clear();

  const seenAt = new Int32Array(words.length).fill(-1);
  while (tokens.length < maxTokens) {
    const best = heap.popValid(pairCount);
    if (best === undefined || best.count < minFrequency) break;
    const a = Math.floor(best.key / K);
    const b = best.key % K;
    const spelled = tokens[a]! + tokens[b]!;
    let c = idOf.get(spelled);
    if (c === undefined) {
      c = tokens.length;
      tokens.push(spelled);
      idOf.set(spelled, c);
    }
    merges.push([tokens[a]!, tokens[b]!]);

    const step = merges.length;
    for (const w of pairWords.get(best.key)!) {
      if (seenAt[w] === step) continue;
      seenAt[w] = step;
      mergeInWord(words[w]!, a, b, c, freq[w]!, w, K, add);
    }
    pairCount.delete(best.key);
    pairWords.delete(best.key);
    for (const key of touched) {
      const n = pairCount.get(key);
      if (n !== undefined) heap.push(n, key);
    }
    touched.clear();
  }
  return { tokens, merges };
}

/**
 * Replace each non-overlapping (a, b), left to right, by c in word `s` (in place) and report the
 * pair-count changes around every occurrence (weighted by the word's frequency).
 */
function mergeInWord(
  s: number[],
  a: number,
  b: number,
  c: number,
  f: number,
  w: number,
  K: number,
  add: (key: number, delta: number, w: number) => void,
): void {
  let out = 0;
  let i = 0;
  const n = s.length;
  while (i < n) {
    if (i + 1 < n && s[i] === a && s[i + 1] === b) {
      if (out > 0) {
        const prev = s[out - 1]!;
        add(prev * K + a, -f, w);
        add(prev * K + c, f, w);
      }
      if (i + 2 < n) {
        const next = s[i + 2]!;
        add(b * K + next, -f, w);
        add(c * K + next, f, w);
      }
      s[out++] = c;
      i += 2;
    } else {
      s[out++] = s[i++]!;
    }
  }
  s.length = out;
}

/** Max-heap of (count, pair key): larger count first, then smaller key. Stale entries allowed. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  push(count: number, key: number): void {
    const { counts, keys } = this;
    let i = counts.length;
    counts.push(count);
    keys.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(count, key, counts[p]!, keys[p]!)) break;
      counts[i] = counts[p]!;
      keys[i] = keys[p]!;
      i = p;
    }
    counts[i] = count;
    keys[i] = key;
  }

  /** Pop until an entry matches the live count; stale ones are re-queued with their live count. */
  popValid(live: Map<number, number>): { count: number; key: number } | undefined {
    while (this.counts.length > 0) {
      const count = this.counts[0]!;
      const key = this.keys[0]!;
      this.popTop();
      const now = live.get(key);
      if (now === count) return { count, key };
      if (now !== undefined) this.push(now, key);
    }
    return undefined;
  }

  private before(c1: number, k1: number, c2: number, k2: number): boolean {
    return c1 > c2 || (c1 === c2 && k1 < k2);
  }

  private popTop(): void {
    const { counts, keys } = this;
    const lastC = counts.pop()!;
    const lastK = keys.pop()!;
    const n = counts.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && this.before(counts[r]!, keys[r]!, counts[l]!, keys[l]!) ? r : l;
      if (!this.before(counts[m]!, keys[m]!, lastC, lastK)) break;
      counts[i] = counts[m]!;
      keys[i] = keys[m]!;
      i = m;
    }
    counts[i] = lastC;
    keys[i] = lastK;
  }
}
