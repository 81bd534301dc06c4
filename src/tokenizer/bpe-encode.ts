/**
 * An independent encoder for the tokenizer.json files this project writes (format.ts): split on
 * special tokens, pre-tokenize (byte-level.ts), spell bytes as GPT-2 characters, then apply the
 * merges in rank order (lowest rank first, all non-overlapping occurrences left to right, as in
 * GPT-2's encoder.py). Tests compare it with transformers.js id for id, which shows that the
 * saved file means what the trainer meant. Production loading goes through load.ts.
 */
import { UsageError } from '../util/errors.js';
import { numberSplitOf, preTokenize, splitOnSpecials, toByteLevel } from './byte-level.js';
import { preTokenizerFor, type TokenizerJson } from './format.js';

export interface ReferenceEncoder {
  encode(text: string): number[];
}

export function createReferenceEncoder(json: TokenizerJson): ReferenceEncoder {
  const { vocab, merges } = json.model;
  const split = numberSplitOf(json.pre_tokenizer?.pretokenizers?.[0]?.pattern?.Regex ?? '');
  if (json.model.type !== 'BPE' || !split || JSON.stringify(json.pre_tokenizer) !== JSON.stringify(preTokenizerFor(split))) {
    throw new UsageError('reference encoder: only reads the byte-level BPE files that train-bpe.ts writes');
  }
  const rank = new Map<string, number>();
  merges.forEach((m, i) => {
    if (!rank.has(m)) rank.set(m, i);
  });
  const specialIds = new Map(json.added_tokens.map((t) => [t.content, t.id]));
  const specials = [...specialIds.keys()];
  const cache = new Map<string, number[]>();

  const idOf = (tok: string): number => {
    const id = vocab[tok];
    if (id === undefined) throw new Error(`reference encoder: "${tok}" is not in the vocabulary`);
    return id;
  };

  const bpe = (word: string): number[] => {
    const hit = cache.get(word);
    if (hit) return hit;
    let parts = Array.from(word);
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = rank.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = [parts[best]!, parts[best + 1]!];
      const next: string[] = [];
      for (let i = 0; i < parts.length; ) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
          next.push(a + b);
          i += 2;
        } else {
          next.push(parts[i++]!);
        }
      }
      parts = next;
    }
    const ids = parts.map(idOf);
    cache.set(word, ids);
    return ids;
  };

  return {
    encode(text: string): number[] {
      const ids: number[] = [];
      for (const piece of splitOnSpecials(text, specials)) {
        if (typeof piece !== 'string') ids.push(specialIds.get(piece.special)!);
        else for (const w of preTokenize(piece, split)) ids.push(...bpe(toByteLevel(w)));
      }
      return ids;
    },
  };
}
