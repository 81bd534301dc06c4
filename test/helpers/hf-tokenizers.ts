/**
 * Small tokenizer directories in the styles Llama-family checkpoints ship, built by the tests
 * themselves (no downloads): the files follow what Hugging Face writes for each family, with a
 * tiny vocabulary.
 *   llama3     byte-level BPE, Llama 3's split regex, a TemplateProcessing post_processor that puts
 *              <|begin_of_text|> first, generation_config.json with two end-of-sequence ids
 *   llama2     SentencePiece BPE (Llama 2 / Mistral): "▁" for spaces, byte_fallback to <0xNN>
 *              tokens, <s> added by the post_processor, tokenizer_config add_bos_token: true
 *   qwen2      byte-level BPE, Qwen2's split regex (single digits), no BOS, <|endoftext|> / <|im_end|>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainBpeTokenizer } from '../../src/tokenizer/train-bpe.js';

const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function write(dir: string, name: string, value: unknown): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), JSON.stringify(value, null, 1));
}

function byteLevelPreTokenizer(pattern: string) {
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
}

function template(bos: string, bosId: number) {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

export interface WrittenTokenizer {
  vocabSize: number;
  bos?: number;
  eos: number;
  /** Every id generation should stop at. */
  stopIds: number[];
}

/** Llama 3 style, trained on `corpus`; specials first: <|begin_of_text|> 0, <|end_of_text|> 1, <|eot_id|> 2. */
export function writeLlama3Tokenizer(dir: string, corpus: string[], vocabSize = 300): WrittenTokenizer {
  const specials = ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'];
  const t = trainBpeTokenizer(corpus, { vocabSize, specialTokens: specials, eosToken: specials[1], bosToken: specials[0] });
  const json = { ...t.tokenizerJson, pre_tokenizer: byteLevelPreTokenizer(LLAMA3_SPLIT), post_processor: template(specials[0], 0) };
  const { add_bos_token: _a, add_eos_token: _e, ...config } = t.tokenizerConfig;
  write(dir, 'tokenizer.json', json);
  write(dir, 'tokenizer_config.json', { ...config, tokenizer_class: 'PreTrainedTokenizerFast' });
  write(dir, 'generation_config.json', { bos_token_id: 0, eos_token_id: [1, 2] });
  return { vocabSize: Object.keys(json.model.vocab).length, bos: 0, eos: 1, stopIds: [1, 2] };
}

/** Qwen2 style: no BOS; <|endoftext|> 0 (eos and pad), <|im_start|> 1, <|im_end|> 2. */
export function writeQwen2Tokenizer(dir: string, corpus: string[], vocabSize = 300): WrittenTokenizer {
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const t = trainBpeTokenizer(corpus, { vocabSize, specialTokens: specials, eosToken: specials[0], padToken: specials[0] });
  const json = { ...t.tokenizerJson, normalizer: { type: 'NFC' }, pre_tokenizer: byteLevelPreTokenizer(QWEN2_SPLIT) };
  const { bos_token: _b, add_bos_token: _a, ...config } = t.tokenizerConfig;
  write(dir, 'tokenizer.json', json);
  write(dir, 'tokenizer_config.json', { ...config, bos_token: null, tokenizer_class: 'Qwen2Tokenizer' });
  return { vocabSize: Object.keys(json.model.vocab).length, eos: 0, stopIds: [0] };
}

/** The SentencePiece-BPE vocabulary: <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258, then pieces. */
export const SP_PIECES = ['▁', 't', 'h', 'e', 'a', 'c', 'f', 'n', 'd', 'o', 'g', '▁t', 'he', '▁the', '▁c', 'at', '▁cat', '▁a', 'an', '▁an', '▁and', '▁d', 'og', '▁dog'];
export const SP_MERGES = ['▁ t', 'h e', '▁t he', '▁ c', 'a t', '▁c at', '▁ a', 'a n', '▁a n', '▁an d', '▁ d', 'o g', '▁d og'];

/** Llama 2 / Mistral style (LlamaTokenizerFast's tokenizer.json), with add_bos_token in tokenizer_config.json. */
export function writeLlama2Tokenizer(dir: string, addBos = true): WrittenTokenizer {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  SP_PIECES.forEach((p, i) => (vocab[p] = 259 + i));
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: template('<s>', 1),
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: SP_MERGES },
  };
  write(dir, 'tokenizer.json', json);
  write(dir, 'tokenizer_config.json', {
    tokenizer_class: 'LlamaTokenizer',
    add_bos_token: addBos,
    add_eos_token: false,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    legacy: false,
    model_max_length: 1000000000000000019884624838656,
    clean_up_tokenization_spaces: false,
  });
  return { vocabSize: 259 + SP_PIECES.length, bos: 1, eos: 2, stopIds: [2] };
}
