/**
 * Repeated-span blocks for pretraining: a short span of distinct tokens taken from the pretraining
 * stream, shuffled, then repeated until the block is full. The first copy is unpredictable
 * (its loss weight is 0); every later token is predictable only by finding the same token earlier
 * in the block and reading what followed it (an induction head). The NI tasks the built-in model
 * learns are mostly copying list elements from input to output, which needs exactly that
 * mechanism; in the NI stream alone it is a small fraction of the tokens, and a first model
 * trained on that stream alone never learned to copy.
 */
import type { Example } from './batch.js';
import type { Rng } from '../util/rng.js';

export interface RepeatOptions {
  /** Tokens per block (block_size + 1, as the packed NI blocks). */
  length: number;
  /** Span lengths are drawn uniformly from [minSpan, maxSpan]. */
  minSpan: number;
  maxSpan: number;
}

/** `n` repeated-span blocks whose spans are drawn from `source` blocks. */
export function repeatBlocks(source: readonly Example[], n: number, rng: Rng, o: RepeatOptions): Example[] {
  const out: Example[] = [];
  for (let i = 0; i < n; i++) {
    // Distinct tokens only, so that every repeated token has one unambiguous successor.
    const from = [...new Set(source[rng.int(0, source.length - 1)].promptIds)];
    const len = Math.min(rng.int(o.minSpan, o.maxSpan), from.length);
    const at = rng.int(0, from.length - len);
    out.push(repeatSpan(rng.shuffle(from.slice(at, at + len)), o.length));
  }
  return out;
}

/** The same with spans of distinct token ids drawn uniformly from [lo, hi] (no real text). */
export function randomRepeatBlocks(n: number, lo: number, hi: number, rng: Rng, o: RepeatOptions): Example[] {
  const out: Example[] = [];
  for (let i = 0; i < n; i++) {
    const len = Math.min(rng.int(o.minSpan, o.maxSpan), hi - lo + 1);
    const span = new Set<number>();
    while (span.size < len) span.add(rng.int(lo, hi));
    out.push(repeatSpan([...span], o.length));
  }
  return out;
}

function repeatSpan(span: number[], length: number): Example {
  const ids: number[] = [];
  while (ids.length < length) ids.push(...span);
  ids.length = length;
  return { promptIds: ids, targetIds: [], weights: ids.map((_, k) => (k < span.length ? 0 : 1)) };
}
