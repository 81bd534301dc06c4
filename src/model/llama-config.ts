/**
 * Llama-family hyper-parameters (model_type `llama`, `mistral`, `qwen2`), read from a Hugging
 * Face `config.json` with the defaults of transformers' LlamaConfig / MistralConfig / Qwen2Config.
 * What this implementation does not compute (another activation, an unknown rope_scaling type)
 * is exit 2 naming the key.
 */
import { CONFIG_LIMITS, ConfigFields } from './config-fields.js';

export const LLAMA_MODEL_TYPES = ['llama', 'mistral', 'qwen2'] as const;
export type LlamaModelType = (typeof LLAMA_MODEL_TYPES)[number];

/** rope_scaling: how the rotary frequencies are stretched for a longer context. */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface LlamaConfig {
  modelType: LlamaModelType;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  /** q_proj, k_proj, v_proj carry biases (Qwen2 always; Llama with attention_bias, which also gives o_proj one). */
  qkvBias: boolean;
  oBias: boolean;
  /** gate/up/down_proj carry biases (Llama's mlp_bias). */
  mlpBias: boolean;
  tieWordEmbeddings: boolean;
  /** Keys further back than this are not attended to (Mistral; Qwen2 with use_sliding_window). */
  slidingWindow?: number;
  bosTokenId?: number;
  eosTokenIds: number[];
}

/** Validate a parsed config.json of a Llama-family model; `file` is named in every error. */
export function parseLlamaConfig(raw: unknown, file: string): LlamaConfig {
  const f = ConfigFields.of(raw, file);
  const L = CONFIG_LIMITS;
  const modelType = f.oneOf('model_type', LLAMA_MODEL_TYPES);
  const vocabSize = f.posInt('vocab_size', L.vocabSize);
  const hiddenSize = f.posInt('hidden_size', L.width);
  const intermediateSize = f.posInt('intermediate_size', L.inner);
  const numLayers = f.posInt('num_hidden_layers', L.layers);
  const numHeads = f.posInt('num_attention_heads', L.heads);
  const numKvHeads = f.posInt('num_key_value_heads', L.heads, numHeads);
  f.divisible('num_key_value_heads', numHeads, 'num_attention_heads', numKvHeads, 'num_key_value_heads');
  if (!f.has('head_dim')) f.divisible('num_attention_heads', hiddenSize, 'hidden_size', numHeads, 'num_attention_heads');
  const headDim = f.posInt('head_dim', L.width, Math.floor(hiddenSize / numHeads));
  if (headDim % 2 !== 0) throw f.error('head_dim', `rotary positions need an even head size, got ${headDim}`);
  const maxPositions = f.posInt('max_position_embeddings', L.positions, modelType === 'llama' ? 2048 : 32768);
  const rmsNormEps = f.float('rms_norm_eps', { min: 0, exclusiveMin: true, max: 1, fallback: 1e-6 });
  const ropeTheta = f.float('rope_theta', { min: 0, exclusiveMin: true, fallback: 10000 });
  f.oneOf('hidden_act', ['silu'] as const, 'silu', 'SwiGLU with SiLU is what this implementation computes');

  const attentionBias = f.bool('attention_bias', false);
  const qkvBias = modelType === 'qwen2' || attentionBias;
  const oBias = modelType !== 'qwen2' && attentionBias;
  const mlpBias = f.bool('mlp_bias', false);
  const tieWordEmbeddings = f.bool('tie_word_embeddings', false);

  let slidingWindow: number | undefined;
  const windowed = modelType === 'mistral' || (modelType === 'qwen2' && f.bool('use_sliding_window', false));
  if (windowed && f.has('sliding_window')) slidingWindow = f.posInt('sliding_window', L.positions);

  const config: LlamaConfig = {
    modelType, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, maxPositions,
    rmsNormEps, ropeTheta, qkvBias, oBias, mlpBias, tieWordEmbeddings,
    eosTokenIds: f.tokenIds('eos_token_id', vocabSize) ?? [],
  };
  const scaling = ropeScaling(f);
  if (scaling) config.ropeScaling = scaling;
  if (slidingWindow !== undefined) config.slidingWindow = slidingWindow;
  const bos = f.tokenId('bos_token_id', vocabSize);
  if (bos !== undefined) config.bosTokenId = bos;
  return config;
}

const ROPE_TYPES = ['default', 'linear', 'llama3'] as const;

function ropeScaling(f: ConfigFields): RopeScaling | undefined {
  if (!f.has('rope_scaling')) return undefined;
  const raw = f.raw.rope_scaling;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw f.error('rope_scaling', `expected an object or null, got ${JSON.stringify(raw)}`);
  const s = new ConfigFields(f.file, raw as Record<string, unknown>);
  const key = s.has('rope_type') ? 'rope_type' : 'type';
  const sub = (k: string) => `rope_scaling.${k}`;
  const type = s.raw[key];
  if (!ROPE_TYPES.includes(type as never))
    throw f.error(sub(key), `expected one of ${ROPE_TYPES.join(', ')} (the rope scalings this implementation computes), got ${JSON.stringify(type)}`);
  if (type === 'default') return undefined;
  const num = (k: string, fallback?: number) => {
    const v = s.raw[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw f.error(sub(k), `expected a positive number, got ${JSON.stringify(s.raw[k])}`);
    return v;
  };
  const factor = num('factor');
  if (type === 'linear') return { type, factor };
  const lowFreqFactor = num('low_freq_factor');
  const highFreqFactor = num('high_freq_factor');
  if (!(highFreqFactor > lowFreqFactor)) throw f.error(sub('high_freq_factor'), `must be greater than low_freq_factor (${lowFreqFactor}), got ${highFreqFactor}`);
  const originalMaxPositions = num('original_max_position_embeddings');
  return { type: 'llama3', factor, lowFreqFactor, highFreqFactor, originalMaxPositions };
}

/**
 * The rotary inverse frequencies [headDim / 2] as transformers computes them
 * (modeling_rope_utils: default, linear, llama3), in float64.
 */
export function ropeInvFreq(c: Pick<LlamaConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  // torch: 1 / base ** (arange(0, dim, 2).float() / dim), the exponent in float32.
  for (let i = 0; i < half; i++) inv[i] = 1 / c.ropeTheta ** Math.fround((2 * i) / c.headDim);
  const s = c.ropeScaling;
  if (!s) return inv;
  if (s.type === 'linear') return inv.map((v) => v / s.factor);
  const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositions / s.highFreqFactor;
  return inv.map((v) => {
    const wavelen = (2 * Math.PI) / v;
    if (wavelen < highWavelen) return v;
    if (wavelen > lowWavelen) return v / s.factor;
    const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return ((1 - smooth) * v) / s.factor + smooth * v;
  });
}
