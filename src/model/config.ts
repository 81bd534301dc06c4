/**
 * GPT-2 hyper-parameters, read from (and written as) a Hugging Face `config.json`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { CONFIG_LIMITS, ConfigFields } from './config-fields.js';

export interface GPT2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP hidden width (HF `n_inner`; null there means 4 * n_embd). */
  nInner: number;
  /** Only the tanh GELU is supported; the HF name is kept so a written config round-trips. */
  activation: 'gelu_new' | 'gelu_pytorch_tanh';
  layerNormEpsilon: number;
  bosTokenId?: number;
  /** First of the config's end-of-sequence ids (HF allows a list). */
  eosTokenId?: number;
  tieWordEmbeddings: boolean;
}

const TANH_GELUS = ['gelu_new', 'gelu_pytorch_tanh'] as const;

/** Validate a parsed config.json; `file` is named in every error. Field checks: config-fields.ts. */
export function parseGPT2Config(raw: unknown, file: string): GPT2Config {
  const f = ConfigFields.of(raw, file);
  const c = f.raw;

  if (c.model_type !== 'gpt2') {
    const got = c.model_type === undefined ? 'it is missing' : `got ${JSON.stringify(c.model_type)}`;
    throw f.error('model_type', `expected "gpt2", ${got}`);
  }
  const L = CONFIG_LIMITS;
  const vocabSize = f.posInt('vocab_size', L.vocabSize);
  const nPositions = f.posInt('n_positions', L.positions);
  const nEmbd = f.posInt('n_embd', L.width);
  const nLayer = f.posInt('n_layer', L.layers);
  const nHead = f.posInt('n_head', L.heads);
  f.divisible('n_head', nEmbd, 'n_embd', nHead, 'n_head');
  const nInner = f.posInt('n_inner', L.inner, 4 * nEmbd);

  const act = f.oneOf('activation_function', TANH_GELUS, 'gelu_new', 'tanh GELU');
  const eps = f.float('layer_norm_epsilon', { min: 0, exclusiveMin: true, max: 1, fallback: 1e-5 });
  const tie = f.bool('tie_word_embeddings', true);

  // Variants of the attention that this implementation does not compute.
  if (c.scale_attn_weights === false) throw f.error('scale_attn_weights', 'only true (the GPT-2 default) is supported');
  if (c.scale_attn_by_inverse_layer_idx === true) throw f.error('scale_attn_by_inverse_layer_idx', 'only false (the GPT-2 default) is supported');

  const config: GPT2Config = {
    vocabSize, nPositions, nEmbd, nLayer, nHead, nInner,
    activation: act,
    layerNormEpsilon: eps,
    tieWordEmbeddings: tie,
  };
  const bos = f.tokenId('bos_token_id', vocabSize);
  const eos = f.tokenId('eos_token_id', vocabSize);
  if (bos !== undefined) config.bosTokenId = bos;
  if (eos !== undefined) config.eosTokenId = eos;
  return config;
}

/** Read `<modelDir>/config.json`. */
export function loadGPT2Config(modelDir: string): GPT2Config {
  const file = join(modelDir, 'config.json');
  if (!existsSync(file)) throw new UsageError(`${file}: not found (a model directory needs a Hugging Face config.json)`);
  return parseGPT2Config(ConfigFields.read(file).raw, file);
}

/** The config as Hugging Face writes it for GPT2LMHeadModel. */
export function gpt2ConfigToJson(c: GPT2Config): Record<string, unknown> {
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: c.nInner === 4 * c.nEmbd ? null : c.nInner,
    activation_function: c.activation,
    layer_norm_epsilon: c.layerNormEpsilon,
    bos_token_id: c.bosTokenId ?? null,
    eos_token_id: c.eosTokenId ?? null,
    tie_word_embeddings: c.tieWordEmbeddings,
  };
}
