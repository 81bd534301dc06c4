/**
 * The one interface every model family implements (GPT-2, the Llama family, ...). Training,
 * evaluation, generation, adapters and the bench use a model only through it and never ask
 * which family it is; everything family-specific (config.json fields, checkpoint names, default
 * adapter targets, PEFT naming) lives in src/model/ behind the family registry (families.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { KVCache } from './kv-cache.js';
import type { FrozenWeight, LinearDelta, LinearInfo } from './linear-delta.js';

export interface ForwardOptions {
  /** Keys and values of earlier positions; this call's keys and values are appended to it. */
  cache?: KVCache;
  /** Position of the first of the T tokens (default: the cache length, else 0). */
  positionOffset?: number;
  /** Per-row positions int32 [B, T], overriding positionOffset (left-padded batches). */
  positions?: tf.Tensor2D;
  /** bool [B, S] over all keys (cache + these T), true = may be attended to (hides left padding). */
  keyMask?: tf.Tensor2D;
}

/** What the code around a model needs to know about it, whatever its family. */
export interface ModelInfo {
  /** Registry name of the family (e.g. 'gpt2', 'llama'); for messages and adapter files only. */
  family: string;
  /** config.json's model_type. */
  modelType: string;
  vocabSize: number;
  /** The longest sequence (prompt + output) the model takes. */
  contextLength: number;
  /** Width of the final hidden states (the LM head's input). */
  hiddenSize: number;
  bosTokenId?: number;
  /** config.json's end-of-sequence ids (a number or a list there); empty when it names none. */
  eosTokenIds: number[];
}

export interface CausalLM {
  readonly info: ModelInfo;
  /** Final hidden states [B, T, hiddenSize] for ids int32 [B, T]. */
  hidden(ids: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  /** LM head: final hidden states [N, hiddenSize] → logits [N, vocabSize]. */
  logits(hidden: tf.Tensor2D): tf.Tensor2D;
  /** Logits [B, T, vocabSize] for ids int32 [B, T]. */
  forward(ids: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  /** A KV cache for incremental decoding. */
  createCache(): KVCache;
  /** The adaptable linear layers, named as in the checkpoint without its prefix (e.g. `layers.0.self_attn.q_proj`). */
  linears(): LinearInfo[];
  /** Add `delta` to linear layer `name` (undefined removes it). */
  setDelta(name: string, delta: LinearDelta | undefined): void;
  /**
   * The frozen weight of linear layer `name`, copied to the host with its layout (read without
   * blocking): what PiSSA, SVFit and LoLDU decompose. Adapters never write it back.
   */
  frozenWeight(name: string): Promise<FrozenWeight>;
  /** Free the weights (adapters' variables belong to the adapters). */
  dispose(): void;
}
