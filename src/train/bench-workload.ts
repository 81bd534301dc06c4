/**
 * The workload of `colora bench`, as ../shared/bench/torch_reference.py defines it (same
 * defaults): a random-init decoder of either architecture, LoRA on the family's default targets
 * (GPT-2: c_attn; Llama: q_proj and v_proj, PEFT's defaults), random token sequences, AdamW at
 * lr 1e-3 with weight decay 0.01 on the adapter only, the causal LM loss over all positions.
 *
 *   --arch gpt2: pre-LN blocks, GELU-tanh MLP 4d, learned positions, tied LM head;
 *   --arch llama: RMSNorm (eps 1e-6), rotary positions (theta 10000), grouped-query attention
 *     with --kv-heads (default heads/2, at least 1), SwiGLU MLP of width --ffn (default 8d/3
 *     rounded up to a multiple of 64), no biases, untied LM head.
 *
 * Initialisation as the reference: N(0, 0.02) matrices (embeddings and LM head included), zero
 * biases, unit norm gains.
 */
import type { AdapterConfig } from '../adapters/config.js';
import type { CausalLM } from '../model/causal-lm.js';
import type { GPT2Config } from '../model/config.js';
import { FAMILIES } from '../model/families.js';
import { GPT2, gpt2ParamShapes } from '../model/gpt2.js';
import type { LlamaConfig } from '../model/llama-config.js';
import { Llama, llamaParams } from '../model/llama.js';
import type { Example } from './batch.js';
import type { LocalTrainingOptions } from './local-training.js';
import { UsageError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export type BenchArch = 'gpt2' | 'llama';
export const BENCH_ARCHS: readonly BenchArch[] = ['gpt2', 'llama'];

export interface WorkloadOptions {
  arch?: BenchArch;
  layers?: number;
  d?: number;
  heads?: number;
  /** Llama only: key/value heads. */
  kvHeads?: number;
  /** Llama only: SwiGLU width. */
  ffn?: number;
  vocab?: number;
  ctx?: number;
  batch?: number;
  rank?: number;
  gen?: number;
  steps?: number;
  warmup?: number;
}

export interface Workload {
  arch: BenchArch;
  layers: number;
  d: number;
  heads: number;
  /** Llama only. */
  kvHeads?: number;
  /** Llama only. */
  ffn?: number;
  vocab: number;
  ctx: number;
  batch: number;
  rank: number;
  gen: number;
  steps: number;
  warmup: number;
}

/** The reference's LoRALinear scale (alpha / r). */
export const LORA_SCALE = 2;

/** The workload of the options, with the reference's defaults; a bad combination is exit 2. */
export function workloadFrom(o: WorkloadOptions, defaultWarmup: number): Workload {
  const arch = o.arch ?? 'gpt2';
  if (!BENCH_ARCHS.includes(arch)) throw new UsageError(`--arch ${arch}: expected one of ${BENCH_ARCHS.join(', ')}`);
  const w: Workload = {
    arch,
    layers: o.layers ?? 4,
    d: o.d ?? 256,
    heads: o.heads ?? 4,
    vocab: o.vocab ?? 512,
    ctx: o.ctx ?? 128,
    batch: o.batch ?? 8,
    rank: o.rank ?? 8,
    gen: o.gen ?? 32,
    steps: o.steps ?? 6,
    warmup: o.warmup ?? defaultWarmup,
  };
  if (w.d % w.heads !== 0) throw new UsageError(`--d ${w.d} is not a multiple of --heads ${w.heads}`);
  if (w.ctx < 2) throw new UsageError(`--ctx ${w.ctx}: need at least 2 tokens (one input, one target)`);
  if (w.steps < 2) throw new UsageError(`--steps ${w.steps}: need at least 2 (the first is warm-up)`);
  if (!Number.isInteger(w.warmup) || w.warmup < 0) throw new UsageError(`--warmup ${w.warmup}: need a whole number of steps, 0 or more`);
  if (arch === 'gpt2') {
    if (o.kvHeads !== undefined) throw new UsageError(`--kv-heads applies to --arch llama only (GPT-2 attention has one key/value head per query head)`);
    if (o.ffn !== undefined) throw new UsageError(`--ffn applies to --arch llama only (GPT-2's MLP is 4 × --d wide)`);
    return w;
  }
  w.kvHeads = o.kvHeads ?? Math.max(1, Math.floor(w.heads / 2));
  w.ffn = o.ffn ?? 64 * Math.ceil((8 * w.d) / 3 / 64);
  if (w.heads % w.kvHeads !== 0) throw new UsageError(`--kv-heads ${w.kvHeads} does not divide --heads ${w.heads} (grouped-query attention shares each kv head among heads/kv-heads query heads)`);
  if ((w.d / w.heads) % 2 !== 0) throw new UsageError(`--d ${w.d} / --heads ${w.heads} = ${w.d / w.heads}: rotary positions need an even head size`);
  return w;
}

export function gpt2BenchConfig(w: Workload): GPT2Config {
  return {
    vocabSize: w.vocab,
    nPositions: w.ctx + w.gen,
    nEmbd: w.d,
    nLayer: w.layers,
    nHead: w.heads,
    nInner: 4 * w.d,
    activation: 'gelu_new',
    layerNormEpsilon: 1e-5,
    tieWordEmbeddings: true,
  };
}

export function llamaBenchConfig(w: Workload): LlamaConfig {
  return {
    modelType: 'llama',
    vocabSize: w.vocab,
    hiddenSize: w.d,
    intermediateSize: w.ffn as number,
    numLayers: w.layers,
    numHeads: w.heads,
    numKvHeads: w.kvHeads as number,
    headDim: w.d / w.heads,
    maxPositions: w.ctx + w.gen,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    tieWordEmbeddings: false,
    eosTokenIds: [],
  };
}

type Arrays = Map<string, { shape: number[]; data: Float32Array }>;

/** N(0, 0.02) for matrices, 1 for norm gains, 0 for biases. */
function randomArrays(shapes: Iterable<[string, number[]]>, isGain: (name: string) => boolean, seed: number): Arrays {
  const rng = Rng.derive(seed, 'bench-init');
  const arrays: Arrays = new Map();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (isGain(name)) data.fill(1);
    else if (shape.length >= 2) rng.fillNormal(data, 0.02);
    arrays.set(name, { shape, data });
  }
  return arrays;
}

export interface BenchModel {
  model: CausalLM;
  /** Parameters of the base model. */
  params: number;
}

/** The workload's random-init model (the reference's initialisation). */
export function benchModel(w: Workload, seed: number): BenchModel {
  if (w.arch === 'gpt2') {
    const config = gpt2BenchConfig(w);
    const shapes = gpt2ParamShapes(config);
    const model = GPT2.fromArrays(config, randomArrays(shapes, (n) => /ln_(1|2|f)\.weight$/.test(n), seed));
    return { model, params: count([...shapes.values()]) };
  }
  const config = llamaBenchConfig(w);
  const shapes = [...llamaParams(config)].map(([name, p]) => [name, p.shape] as [string, number[]]);
  const model = Llama.fromArrays(config, randomArrays(shapes, (n) => /(layernorm|^norm)\.weight$/.test(n), seed));
  return { model, params: count(shapes.map(([, s]) => s)) };
}

function count(shapes: number[][]): number {
  return shapes.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
}

/** LoRA of the workload's rank on the family's default targets (PEFT's), scale 2 as the reference. */
export function benchAdapterConfig(w: Workload): AdapterConfig {
  const family = FAMILIES.find((f) => f.name === w.arch);
  if (!family) throw new Error(`bench: no model family named ${w.arch}`);
  return { rank: w.rank, alpha: LORA_SCALE * w.rank, targets: [...family.defaultTargets], dropout: 0, personal: false };
}

/** Training examples of whole sequences: predict tokens 1 .. ctx − 1 from the ones before. */
export function benchExamples(tokens: number[][]): Example[] {
  return tokens.map((seq) => ({ promptIds: seq.slice(0, 1), targetIds: seq.slice(1) }));
}

/** The workload's random token sequences [batch][ctx]. */
export function benchTokens(w: Workload, seed: number): number[][] {
  const rng = Rng.derive(seed, 'bench-data');
  return Array.from({ length: w.batch }, () => Array.from({ length: w.ctx }, () => rng.int(0, w.vocab - 1)));
}

/** torch.optim.AdamW(lr=1e-3) defaults: betas (0.9, 0.999), weight decay 0.01, no warm-up, no clipping; one batch of all sequences. */
export function benchTrainOptions(w: Workload, steps: number, onStep?: (loss: number) => void): LocalTrainingOptions {
  return {
    steps,
    batchSize: w.batch,
    lr: 1e-3,
    warmupSteps: 0,
    firstStep: 0,
    optimizer: { kind: 'adamw' as const, betas: [0.9, 0.999] as [number, number], weightDecay: 0.01, gradClip: 0 },
    padId: 0,
    where: 'bench',
    ...(onStep ? { onStep } : {}),
  };
}
