/**
 * The two files a trained tokenizer is saved as, in the form Hugging Face `tokenizers` (Rust /
 * Python) and transformers.js read: tokenizer.json (the pipeline: pre-tokenizer, BPE model,
 * decoder, added tokens) and tokenizer_config.json (which token is EOS/BOS/PAD, the class name,
 * the context length). Keys are written in a fixed order so that equal inputs give equal bytes.
 */
import { pretokenizePattern, type NumberSplit } from './byte-level.js';

/** GPT-2's split with numbers cut up (byte-level.ts), then bytes → characters with no regex of its own. */
export function preTokenizerFor(split: NumberSplit) {
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: pretokenizePattern(split) }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  } as const;
}

export type PreTokenizerJson = ReturnType<typeof preTokenizerFor>;

export const DECODER = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false } as const;

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface BpeModelJson {
  type: 'BPE';
  dropout: null;
  unk_token: null;
  continuing_subword_prefix: null;
  end_of_word_suffix: null;
  fuse_unk: boolean;
  byte_fallback: boolean;
  ignore_merges: boolean;
  /** Token (byte-level spelling) → id; special tokens included. */
  vocab: Record<string, number>;
  /** "left right" in priority order (byte-level tokens never contain a space). */
  merges: string[];
}

export interface TokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: null;
  pre_tokenizer: PreTokenizerJson;
  post_processor: null;
  decoder: typeof DECODER;
  model: BpeModelJson;
}

export interface TokenizerConfigJson {
  tokenizer_class: string;
  model_max_length: number;
  bos_token: string;
  eos_token: string;
  pad_token?: string;
  add_bos_token: boolean;
  add_eos_token: boolean;
  add_prefix_space: boolean;
  clean_up_tokenization_spaces: boolean;
  added_tokens_decoder: Record<string, Omit<AddedTokenJson, 'id'>>;
}

export interface TrainedTokenizer {
  tokenizerJson: TokenizerJson;
  tokenizerConfig: TokenizerConfigJson;
}

export interface SpecialTokenRoles {
  eosToken: string;
  bosToken: string;
  padToken?: string;
  modelMaxLength: number;
}

/**
 * Assemble the files. `tokens[id]` is the byte-level spelling of each id; the special tokens
 * must be among them. `merges` are [left, right] in the order they were learned.
 */
export function buildTokenizerFiles(
  tokens: readonly string[],
  merges: ReadonlyArray<readonly [string, string]>,
  specialTokens: readonly string[],
  roles: SpecialTokenRoles,
  split: NumberSplit = 'digits',
): TrainedTokenizer {
  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => (vocab[t] = id));
  const added: AddedTokenJson[] = specialTokens.map((content) => ({
    id: vocab[content]!,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizerJson: TokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizerFor(split),
    post_processor: null,
    decoder: DECODER,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const addedDecoder: TokenizerConfigJson['added_tokens_decoder'] = {};
  for (const { id, ...rest } of added) addedDecoder[String(id)] = rest;
  const tokenizerConfig: TokenizerConfigJson = {
    tokenizer_class: 'GPT2Tokenizer',
    model_max_length: roles.modelMaxLength,
    bos_token: roles.bosToken,
    eos_token: roles.eosToken,
    ...(roles.padToken !== undefined ? { pad_token: roles.padToken } : {}),
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: addedDecoder,
  };
  return { tokenizerJson, tokenizerConfig };
}
