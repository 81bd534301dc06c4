/**
 * GPT-2 (Radford et al. 2019) as Hugging Face's GPT2LMHeadModel computes it: learned positions,
 * pre-LayerNorm blocks, tanh-GELU MLP, LM head tied to the token embedding (or a separate
 * lm_head when the config unties it). Weights are plain tensors, so they stay frozen; adapters
 * add trainable corrections to the linear layers through `setDelta`.
 *
 * Parameter names are Hugging Face's without the `transformer.` prefix, e.g. `h.0.attn.c_attn.weight`;
 * linear weights are in Conv1D layout [in, out].
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT2Config } from './config.js';
import { ConcatKVCache, StoreKVCache, type KVCache } from './kv-cache.js';
import type { FrozenWeight, LinearDelta, LinearInfo } from './linear-delta.js';
import type { CausalLM, ForwardOptions, ModelInfo } from './causal-lm.js';
import { causalSelfAttention, embedding, geluTanh, hasCachedAttention, layerNorm, linearFused, linearT } from '../engine/ops.js';

export type { ForwardOptions } from './causal-lm.js';

/** The linear layers of one block, as [suffix, in, out] for a config. */
function blockLinears(c: GPT2Config): [string, number, number][] {
  return [
    ['attn.c_attn', c.nEmbd, 3 * c.nEmbd],
    ['attn.c_proj', c.nEmbd, c.nEmbd],
    ['mlp.c_fc', c.nEmbd, c.nInner],
    ['mlp.c_proj', c.nInner, c.nEmbd],
  ];
}

/** Every parameter of the model with its shape, in Hugging Face naming (no `transformer.` prefix). */
export function gpt2ParamShapes(c: GPT2Config): Map<string, number[]> {
  const s = new Map<string, number[]>();
  s.set('wte.weight', [c.vocabSize, c.nEmbd]);
  s.set('wpe.weight', [c.nPositions, c.nEmbd]);
  for (let l = 0; l < c.nLayer; l++) {
    for (const ln of ['ln_1', 'ln_2']) {
      s.set(`h.${l}.${ln}.weight`, [c.nEmbd]);
      s.set(`h.${l}.${ln}.bias`, [c.nEmbd]);
    }
    for (const [name, nIn, nOut] of blockLinears(c)) {
      s.set(`h.${l}.${name}.weight`, [nIn, nOut]);
      s.set(`h.${l}.${name}.bias`, [nOut]);
    }
  }
  s.set('ln_f.weight', [c.nEmbd]);
  s.set('ln_f.bias', [c.nEmbd]);
  if (!c.tieWordEmbeddings) s.set('lm_head.weight', [c.vocabSize, c.nEmbd]);
  return s;
}

/** What the code around the model needs to know (causal-lm.ts). */
export function gpt2Info(c: GPT2Config): ModelInfo {
  return {
    family: 'gpt2',
    modelType: 'gpt2',
    vocabSize: c.vocabSize,
    contextLength: c.nPositions,
    hiddenSize: c.nEmbd,
    ...(c.bosTokenId !== undefined ? { bosTokenId: c.bosTokenId } : {}),
    eosTokenIds: c.eosTokenId !== undefined ? [c.eosTokenId] : [],
  };
}

export class GPT2 implements CausalLM {
  private readonly deltas = new Map<string, LinearDelta>();
  readonly info: ModelInfo;

  /**
   * `params` must hold exactly the tensors of `gpt2ParamShapes(config)`; the model owns them
   * (dispose() frees them). Passing tf.Variables makes the base trainable (pretraining).
   */
  constructor(readonly config: GPT2Config, private readonly params: Map<string, tf.Tensor>) {
    this.info = gpt2Info(config);
    for (const [name, shape] of gpt2ParamShapes(config)) {
      const t = params.get(name);
      if (!t) throw new Error(`GPT2: missing parameter ${name}`);
      if (!tf.util.arraysEqual(t.shape, shape)) throw new Error(`GPT2: ${name} has shape [${t.shape}], expected [${shape}]`);
    }
  }

  /** Build from raw arrays (as read from a checkpoint). */
  static fromArrays(config: GPT2Config, arrays: Map<string, { shape: readonly number[]; data: Float32Array }>): GPT2 {
    const params = new Map<string, tf.Tensor>();
    for (const name of gpt2ParamShapes(config).keys()) {
      const a = arrays.get(name);
      if (a) params.set(name, tf.tensor(a.data, [...a.shape], 'float32'));
    }
    return new GPT2(config, params);
  }

  /** The parameters by name (for saving); the tensors still belong to the model. */
  namedParams(): ReadonlyMap<string, tf.Tensor> {
    return this.params;
  }

  /** The adaptable linear layers, e.g. `h.0.attn.c_attn` (PEFT target-module suffix `attn.c_attn`). */
  linears(): LinearInfo[] {
    const out: LinearInfo[] = [];
    for (let l = 0; l < this.config.nLayer; l++) {
      for (const [name, inFeatures, outFeatures] of blockLinears(this.config)) out.push({ name: `h.${l}.${name}`, inFeatures, outFeatures });
    }
    return out;
  }

  /** Add `delta` to linear layer `name` (undefined removes it). */
  setDelta(name: string, delta: LinearDelta | undefined): void {
    if (!this.params.has(`${name}.weight`) || !this.linears().some((l) => l.name === name)) {
      throw new Error(`GPT2.setDelta: no linear layer named '${name}'`);
    }
    if (delta) this.deltas.set(name, delta);
    else this.deltas.delete(name);
  }

  /** The frozen weight of linear layer `name` (Conv1D layout [in, out]), copied to the host (read without blocking). */
  async frozenWeight(name: string): Promise<FrozenWeight> {
    const info = this.linears().find((l) => l.name === name);
    if (!info) throw new Error(`GPT2.frozenWeight: no linear layer named '${name}'`);
    return { data: Float32Array.from(await this.p(`${name}.weight`).data()), layout: 'in_out', inFeatures: info.inFeatures, outFeatures: info.outFeatures };
  }

  getDelta(name: string): LinearDelta | undefined {
    return this.deltas.get(name);
  }

  /** A KV cache for incremental decoding (the fast engine's in-place one where it runs). */
  createCache(): KVCache {
    const c = this.config;
    return hasCachedAttention() ? new StoreKVCache(c.nLayer, c.nHead, c.nEmbd / c.nHead, c.nPositions) : new ConcatKVCache(c.nLayer);
  }

  private p<R extends tf.Rank>(name: string): tf.Tensor<R> {
    return this.params.get(name) as tf.Tensor<R>;
  }

  /**
   * Linear layer `name` on x [N, in], plus its adapter delta if one is set, plus `residual` if
   * given: residual + (x W + b + delta(x)). A low-rank delta goes into the same fused op.
   */
  private lin(name: string, x: tf.Tensor2D, residual?: tf.Tensor2D): tf.Tensor2D {
    const w = this.p<tf.Rank.R2>(`${name}.weight`);
    const b = this.p<tf.Rank.R1>(`${name}.bias`);
    const d = this.deltas.get(name);
    const lowRank = d?.lowRank?.();
    if (!d || lowRank) return linearFused(x, w, { b, lowRank, residual });
    const y = tf.add(linearFused(x, w, { b }), d.delta(x)) as tf.Tensor2D;
    return residual ? tf.add(residual, y) : y;
  }

  /** Final hidden states (after ln_f) [B, T, D] for ids int32 [B, T]. */
  hidden(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    const c = this.config;
    const [B, T] = ids.shape;
    const D = c.nEmbd;
    const H = c.nHead;
    const offset = opts.positionOffset ?? opts.cache?.length ?? 0;
    if (!opts.positions && offset + T > c.nPositions) {
      throw new Error(`GPT2: positions ${offset}..${offset + T - 1} exceed n_positions (${c.nPositions})`);
    }
    return tf.tidy(() => {
      const pos = opts.positions ?? tf.range(offset, offset + T, 1, 'int32').reshape([1, T]);
      const tok = embedding(this.p('wte.weight'), ids);
      // The residual stream, flattened to [B*T, D].
      let x = tf.add(tok, embedding(this.p('wpe.weight'), pos)).reshape([B * T, D]) as tf.Tensor2D;

      for (let l = 0; l < c.nLayer; l++) {
        const h = `h.${l}`;
        // Attention: q, k, v from one projection.
        const a = layerNorm(x, this.p(`${h}.ln_1.weight`), this.p(`${h}.ln_1.bias`), c.layerNormEpsilon) as tf.Tensor2D;
        const qkv = this.lin(`${h}.attn.c_attn`, a);
        // Decoding appends this step's keys and values to the cache and attends over all of them.
        const merged = opts.cache ? opts.cache.attend(l, qkv, B, H, opts.keyMask) : causalSelfAttention(qkv, B, H, opts.keyMask);
        x = this.lin(`${h}.attn.c_proj`, merged, x);
        // MLP.
        const m = layerNorm(x, this.p(`${h}.ln_2.weight`), this.p(`${h}.ln_2.bias`), c.layerNormEpsilon) as tf.Tensor2D;
        const up = geluTanh(this.lin(`${h}.mlp.c_fc`, m)) as tf.Tensor2D;
        x = this.lin(`${h}.mlp.c_proj`, up, x);
      }
      return layerNorm(x, this.p('ln_f.weight'), this.p('ln_f.bias'), c.layerNormEpsilon).reshape([B, T, D]) as tf.Tensor3D;
    });
  }

  /** LM head: final hidden states [N, D] → logits [N, V]. */
  logits(hidden: tf.Tensor2D): tf.Tensor2D {
    return linearT(hidden, this.p(this.config.tieWordEmbeddings ? 'wte.weight' : 'lm_head.weight'));
  }

  /** Logits [B, T, V] for ids int32 [B, T]. */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    const [B, T] = ids.shape;
    return tf.tidy(() => {
      const h = this.hidden(ids, opts).reshape([B * T, this.config.nEmbd]) as tf.Tensor2D;
      return this.logits(h).reshape([B, T, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  /** Free the weights (adapters' variables belong to the adapters). */
  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
    this.deltas.clear();
  }
}
