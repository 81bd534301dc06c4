/**
 * The Llama family (Touvron et al. 2023; Mistral, Qwen2) as transformers' LlamaForCausalLM
 * computes it: pre-RMSNorm blocks, rotary positions (rotate-half) on queries and keys,
 * grouped-query attention (num_key_value_heads ≤ num_attention_heads), SwiGLU MLP, optional
 * q/k/v (and o) biases, tied or untied LM head. Weights are plain tensors, so they stay frozen;
 * adapters add trainable corrections to the linear layers through `setDelta`.
 *
 * Parameter names are Hugging Face's without the `model.` prefix, e.g.
 * `layers.0.self_attn.q_proj.weight`. The checkpoint stores nn.Linear weights [out, in]; the
 * loader transposes them once into [in, out], the layout of the engine's linear ops.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, ForwardOptions, ModelInfo } from './causal-lm.js';
import { ConcatKVCache, StoreKVCache, type KVCache } from './kv-cache.js';
import type { FrozenWeight, LinearDelta, LinearInfo } from './linear-delta.js';
import { ropeInvFreq, type LlamaConfig } from './llama-config.js';
import { embedding, hasCachedAttention, linearFused, linearT, rmsNorm, rotary, selfAttention, swiglu } from '../engine/ops.js';
import { UsageError } from '../util/errors.js';

/** The linear layers of one block, as [suffix, in, out, has bias]. */
function blockLinears(c: LlamaConfig): [string, number, number, boolean][] {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  return [
    ['self_attn.q_proj', D, q, c.qkvBias],
    ['self_attn.k_proj', D, kv, c.qkvBias],
    ['self_attn.v_proj', D, kv, c.qkvBias],
    ['self_attn.o_proj', q, D, c.oBias],
    ['mlp.gate_proj', D, F, c.mlpBias],
    ['mlp.up_proj', D, F, c.mlpBias],
    ['mlp.down_proj', F, D, c.mlpBias],
  ];
}

/** Where a parameter comes from in a checkpoint. */
export interface LlamaParam {
  shape: number[];
  /** Stored [out, in] in the checkpoint, [in, out] in the model. */
  linear: boolean;
}

/** Every parameter of the model with its shape in the model (linear weights [in, out]). */
export function llamaParams(c: LlamaConfig): Map<string, LlamaParam> {
  const s = new Map<string, LlamaParam>();
  const D = c.hiddenSize;
  s.set('embed_tokens.weight', { shape: [c.vocabSize, D], linear: false });
  for (let l = 0; l < c.numLayers; l++) {
    s.set(`layers.${l}.input_layernorm.weight`, { shape: [D], linear: false });
    s.set(`layers.${l}.post_attention_layernorm.weight`, { shape: [D], linear: false });
    for (const [name, nIn, nOut, bias] of blockLinears(c)) {
      s.set(`layers.${l}.${name}.weight`, { shape: [nIn, nOut], linear: true });
      if (bias) s.set(`layers.${l}.${name}.bias`, { shape: [nOut], linear: false });
    }
  }
  s.set('norm.weight', { shape: [D], linear: false });
  if (!c.tieWordEmbeddings) s.set('lm_head.weight', { shape: [c.vocabSize, D], linear: false });
  return s;
}

export function llamaInfo(c: LlamaConfig): ModelInfo {
  return {
    family: 'llama',
    modelType: c.modelType,
    vocabSize: c.vocabSize,
    // Within the sliding window full attention is exact, so the window bounds what callers feed.
    contextLength: Math.min(c.maxPositions, c.slidingWindow ?? Infinity),
    hiddenSize: c.hiddenSize,
    ...(c.bosTokenId !== undefined ? { bosTokenId: c.bosTokenId } : {}),
    eosTokenIds: c.eosTokenIds,
  };
}

export class Llama implements CausalLM {
  private readonly deltas = new Map<string, LinearDelta>();
  readonly info: ModelInfo;
  /** Inverse rotary frequencies, repeated for both halves of a head: [1, headDim]. */
  private readonly invFreq: tf.Tensor2D;

  /** `params` must hold exactly the tensors of `llamaParams(config)`; the model owns them. */
  constructor(readonly config: LlamaConfig, private readonly params: Map<string, tf.Tensor>) {
    for (const [name, { shape }] of llamaParams(config)) {
      const t = params.get(name);
      if (!t) throw new Error(`Llama: missing parameter ${name}`);
      if (!tf.util.arraysEqual(t.shape, shape)) throw new Error(`Llama: ${name} has shape [${t.shape}], expected [${shape}]`);
    }
    this.info = llamaInfo(config);
    const inv = Float32Array.from(ropeInvFreq(config));
    const both = new Float32Array(config.headDim);
    both.set(inv, 0);
    both.set(inv, inv.length);
    this.invFreq = tf.tensor2d(both, [1, config.headDim]);
  }

  static fromArrays(config: LlamaConfig, arrays: Map<string, { shape: readonly number[]; data: Float32Array }>): Llama {
    const params = new Map<string, tf.Tensor>();
    for (const name of llamaParams(config).keys()) {
      const a = arrays.get(name);
      if (a) params.set(name, tf.tensor(a.data, [...a.shape], 'float32'));
    }
    return new Llama(config, params);
  }

  /** The parameters by name (linear weights [in, out]); the tensors still belong to the model. */
  namedParams(): ReadonlyMap<string, tf.Tensor> {
    return this.params;
  }

  linears(): LinearInfo[] {
    const out: LinearInfo[] = [];
    for (let l = 0; l < this.config.numLayers; l++) {
      for (const [name, inFeatures, outFeatures] of blockLinears(this.config)) out.push({ name: `layers.${l}.${name}`, inFeatures, outFeatures });
    }
    return out;
  }

  setDelta(name: string, delta: LinearDelta | undefined): void {
    if (!this.params.has(`${name}.weight`) || !this.linears().some((l) => l.name === name)) {
      throw new Error(`Llama.setDelta: no linear layer named '${name}'`);
    }
    if (delta) this.deltas.set(name, delta);
    else this.deltas.delete(name);
  }

  /**
   * The frozen weight of linear layer `name`, copied to the host (read without blocking). The
   * checkpoint's nn.Linear [out, in] was transposed once on load, so it is `in_out` here, as GPT-2's.
   */
  async frozenWeight(name: string): Promise<FrozenWeight> {
    const info = this.linears().find((l) => l.name === name);
    if (!info) throw new Error(`Llama.frozenWeight: no linear layer named '${name}'`);
    return { data: Float32Array.from(await this.p(`${name}.weight`).data()), layout: 'in_out', inFeatures: info.inFeatures, outFeatures: info.outFeatures };
  }

  createCache(): KVCache {
    const c = this.config;
    return hasCachedAttention() ? new StoreKVCache(c.numLayers, c.numKvHeads, c.headDim, c.maxPositions, c.numHeads) : new ConcatKVCache(c.numLayers);
  }

  private p<R extends tf.Rank>(name: string): tf.Tensor<R> {
    return this.params.get(name) as tf.Tensor<R>;
  }

  /** Linear layer `name` on x [N, in] with its bias, adapter delta and `residual` when given. */
  private lin(name: string, x: tf.Tensor2D, residual?: tf.Tensor2D): tf.Tensor2D {
    const w = this.p<tf.Rank.R2>(`${name}.weight`);
    const b = this.params.get(`${name}.bias`) as tf.Tensor1D | undefined;
    const d = this.deltas.get(name);
    const lowRank = d?.lowRank?.();
    if (!d || lowRank) return linearFused(x, w, { b, lowRank, residual });
    const y = tf.add(linearFused(x, w, { b }), d.delta(x)) as tf.Tensor2D;
    return residual ? tf.add(residual, y) : y;
  }

  /** cos and sin of every row's rotary angles, [B·T, headDim] each (float32, as transformers). */
  private rotaryTables(pos: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
    const angles = tf.mul(tf.cast(pos.reshape([-1, 1]), 'float32'), this.invFreq) as tf.Tensor2D;
    return [tf.cos(angles), tf.sin(angles)];
  }

  hidden(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    const c = this.config;
    const [B, T] = ids.shape;
    const D = c.hiddenSize;
    const past = opts.cache?.length ?? 0;
    const offset = opts.positionOffset ?? past;
    if (!opts.positions && offset + T > c.maxPositions) {
      throw new Error(`Llama: positions ${offset}..${offset + T - 1} exceed max_position_embeddings (${c.maxPositions})`);
    }
    if (c.slidingWindow !== undefined && past + T > c.slidingWindow) {
      throw new UsageError(
        `${c.modelType}: the sequence has ${past + T} positions, more than its sliding_window (${c.slidingWindow}); colora computes full attention only, so keep prompts plus outputs within ${c.slidingWindow} tokens`,
      );
    }
    return tf.tidy(() => {
      const pos = opts.positions ?? (tf.range(offset, offset + T, 1, 'int32').reshape([1, T]).tile([B, 1]) as tf.Tensor2D);
      const [cos, sin] = this.rotaryTables(pos);
      // The residual stream, flattened to [B*T, D].
      let x = embedding(this.p('embed_tokens.weight'), ids).reshape([B * T, D]) as tf.Tensor2D;
      for (let l = 0; l < c.numLayers; l++) {
        const h = `layers.${l}`;
        const a = rmsNorm(x, this.p(`${h}.input_layernorm.weight`), c.rmsNormEps) as tf.Tensor2D;
        const q = rotary(this.lin(`${h}.self_attn.q_proj`, a), cos, sin, c.numHeads);
        const k = rotary(this.lin(`${h}.self_attn.k_proj`, a), cos, sin, c.numKvHeads);
        const v = this.lin(`${h}.self_attn.v_proj`, a);
        const att = opts.cache
          ? opts.cache.attendGrouped(l, q, k, v, B, c.numHeads, opts.keyMask)
          : selfAttention(q, k, v, B, c.numHeads, c.numKvHeads, opts.keyMask);
        x = this.lin(`${h}.self_attn.o_proj`, att, x);
        const m = rmsNorm(x, this.p(`${h}.post_attention_layernorm.weight`), c.rmsNormEps) as tf.Tensor2D;
        const up = swiglu(this.lin(`${h}.mlp.gate_proj`, m), this.lin(`${h}.mlp.up_proj`, m));
        x = this.lin(`${h}.mlp.down_proj`, up, x);
      }
      return rmsNorm(x, this.p('norm.weight'), c.rmsNormEps).reshape([B, T, D]) as tf.Tensor3D;
    });
  }

  logits(hidden: tf.Tensor2D): tf.Tensor2D {
    return linearT(hidden, this.p(this.config.tieWordEmbeddings ? 'embed_tokens.weight' : 'lm_head.weight'));
  }

  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    const [B, T] = ids.shape;
    return tf.tidy(() => {
      const h = this.hidden(ids, opts).reshape([B * T, this.config.hiddenSize]) as tf.Tensor2D;
      return this.logits(h).reshape([B, T, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
    this.deltas.clear();
    this.invFreq.dispose();
  }
}
