/**
 * Prompt + target → token ids for a decoder-only model.
 *
 * The prompt and the target are encoded separately and concatenated, so the model is trained on
 * exactly the ids it conditions on at generation time. Truncation (by tokenizer length):
 * - target: its first `maxTargetTokens` ids, then EOS;
 * - prompt: NI's encoder-decoder collator cuts the end of a long source, which for a decoder
 *   would cut off the final "Output: " cue. We keep the cue: the prompt body (everything before
 *   the final "Output: ") is cut at the end so that body + cue fit `maxSourceTokens`.
 */
import type { Tokenizer } from '../tokenizer/load.js';

export const OUTPUT_CUE = 'Output: ';

export interface EncodedExample {
  promptIds: number[];
  /** Target ids including the trailing EOS (empty at evaluation time). */
  targetIds: number[];
}

/** The prompt's ids, after the tokenizer's prefix (BOS for Llama-style tokenizers), at most maxSourceTokens in all. */
export function encodePrompt(tok: Tokenizer, prompt: string, maxSourceTokens: number): number[] {
  const prefix = tok.prefixIds ?? [];
  const room = maxSourceTokens - prefix.length;
  const ids = tok.encode(prompt);
  if (ids.length <= room) return [...prefix, ...ids];
  const cut = prompt.endsWith(OUTPUT_CUE) ? prompt.length - OUTPUT_CUE.length : prompt.length;
  const cueIds = tok.encode(prompt.slice(cut));
  const bodyIds = tok.encode(prompt.slice(0, cut));
  const keep = Math.max(0, room - cueIds.length);
  return [...prefix, ...[...bodyIds.slice(0, keep), ...cueIds].slice(-room)];
}

export function encodeTarget(tok: Tokenizer, target: string, maxTargetTokens: number, eosId: number): number[] {
  return [...tok.encode(target).slice(0, maxTargetTokens), eosId];
}
