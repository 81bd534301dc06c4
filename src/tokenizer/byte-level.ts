/**
 * The byte-level pieces shared by the BPE trainer and the reference encoder: GPT-2's
 * byte-to-unicode table and the pre-tokenizer split.
 *
 * Pre-tokenization is GPT-2's regex with numbers cut up, one of two ways (`NumberSplit`):
 * - `digits`: single digits, a space kept on the first (` ?\p{N}` for ` ?\p{N}+`), so
 *   "[12, -5, 330]" gives "[", "1", "2", ",", " -", "5", ",", " 3", "3", "0", "]";
 * - `groups3`: runs of up to three digits, the space a token of its own (`\p{N}{1,3}`, as in
 *   GPT-4's tokenizer), so the same text gives " [", "12", ",", " -", "5", ",", " ", "330", "]"
 *   and a number below 1000 is one token wherever it stands.
 * The pattern is what tokenizer.json stores (Oniguruma syntax, as the Rust `tokenizers` crate
 * reads it); the regex is the same pattern in JavaScript terms, exactly as transformers.js
 * translates it (`\s` means Unicode White_Space in Oniguruma, which JavaScript's `\s` does
 * not: it adds U+FEFF and lacks U+0085).
 */

export type NumberSplit = 'digits' | 'groups3';
export const NUMBER_SPLITS: readonly NumberSplit[] = ['digits', 'groups3'];

const NUMBER_PATTERN: Record<NumberSplit, string> = { digits: ' ?\\p{N}', groups3: '\\p{N}{1,3}' };

/** The pre-tokenizer regex as tokenizer.json stores it. */
export function pretokenizePattern(split: NumberSplit): string {
  return `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+|${NUMBER_PATTERN[split]}| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`;
}

const REGEX: Record<NumberSplit, RegExp> = {
  digits: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu,
  groups3: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|\p{N}{1,3}| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu,
};

/** Which split a stored pattern is (undefined: not one of ours). */
export function numberSplitOf(pattern: string): NumberSplit | undefined {
  return NUMBER_SPLITS.find((s) => pretokenizePattern(s) === pattern);
}

/** Pre-tokens of a text with no special tokens in it. Every character lands in exactly one. */
export function preTokenize(text: string, split: NumberSplit = 'digits'): string[] {
  return text.match(REGEX[split]) ?? [];
}

/**
 * GPT-2's reversible byte → printable character table: printable Latin-1 bytes map to
 * themselves, the other 68 bytes to U+0100.. in byte order (space → "Ġ", newline → "Ċ").
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(keep(b) ? b : next++));
  return table;
})();

const utf8 = new TextEncoder();

/** UTF-8 bytes of `text` (a lone surrogate becomes U+FFFD, as in transformers.js). */
export function utf8Bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/** The byte-level spelling of `text`: its UTF-8 bytes, each written as BYTE_TO_CHAR[byte]. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/**
 * Leftmost-longest split of `text` on special-token strings, as transformers.js does before
 * pre-tokenizing: plain pieces and `{ special }` markers, in text order, no empty pieces.
 */
export function splitOnSpecials(text: string, specials: readonly string[]): Array<string | { special: string }> {
  if (specials.length === 0 || text.length === 0) return text.length ? [text] : [];
  const out: Array<string | { special: string }> = [];
  let start = 0;
  for (;;) {
    let at = -1;
    let match = '';
    for (const s of specials) {
      if (s.length === 0) continue;
      const j = text.indexOf(s, start);
      if (j >= 0 && (at < 0 || j < at || (j === at && s.length > match.length))) {
        at = j;
        match = s;
      }
    }
    if (at < 0) break;
    if (at > start) out.push(text.slice(start, at));
    out.push({ special: match });
    start = at + match.length;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}
