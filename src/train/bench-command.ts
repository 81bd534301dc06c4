/**
 * `colora bench`: LoRA training and greedy-generation throughput of a random-init decoder (GPT-2,
 * or Llama with --arch llama) on the workload of ../shared/bench/torch_reference.py (same
 * defaults, same timing rules; bench-workload.ts), through the code `colora train` runs: the
 * model behind the CausalLM interface (src/model), LoRA injection on the family's default
 * targets (src/adapters), trainLocally with AdamW and the batch loss (src/train), and the
 * model's batched greedy generate with KV cache.
 *
 * Timing as the reference: training tokens/s = batch·(ctx − 1) / median step time over the steps
 * after the first (warm-up; for an even count the upper median); generation tokens/s =
 * batch·gen / the median of 3 runs (prompt of 64 tokens, then gen − 1 cached steps).
 *
 * Before that, an untimed warm-up (`--warmup n`: n training steps and ⌈n/4⌉ generations, on an
 * adapter of their own that is removed afterwards, so the timed run and its loss do not depend
 * on it). PyTorch reaches its steady state within the reference's one warm-up step; V8 keeps
 * compiling colora's hot JavaScript for ~20 steps (each compile 1–14 ms, during which the
 * compiler thread also stalls OpenBLAS's second thread), so without a warm-up the timed steps
 * measure the JIT rather than the engine. Its default is 20 on the fast cpu engine and 0
 * elsewhere; `--warmup 0` is the reference's rule alone, and the warm-up's own step and
 * generation times are reported.
 */
import * as tf from '@tensorflow/tfjs';
import { InjectedAdapter, targetedLinears } from '../adapters/inject.js';
import { initialState } from '../adapters/state.js';
import type { BackendName } from '../config/schema.js';
import { generate } from '../model/generate.js';
import { trainLocally } from './local-training.js';
import { Rng } from '../util/rng.js';
import { initBackend } from '../engine/backend.js';
import { getBlas } from '../engine/blas.js';
import { benchAdapterConfig, benchExamples, benchModel, benchTokens, benchTrainOptions, workloadFrom, type Workload, type WorkloadOptions } from './bench-workload.js';
import { formatProfile, profileKernels, type Profile } from '../engine/profile.js';
import { getSimd } from '../engine/simd/runtime.js';

export type { Workload } from './bench-workload.js';

export interface BenchOptions extends WorkloadOptions {
  backend?: BackendName;
  json?: boolean;
  /** Also print a per-kernel profile of one training step and one generation (stderr). */
  profile?: boolean;
  seed?: number;
}

export interface BenchResult {
  impl: string;
  backend: string;
  tf_backend: string;
  blas: string;
  simd: boolean;
  threads: string;
  params: number;
  train_tokens_per_s: number;
  generate_tokens_per_s: number;
  peak_rss_mb: number;
  final_loss: number;
  /** The median step time the training rate comes from (steps after the first, reference rule). */
  median_step_ms: number;
  step_ms: number[];
  /** The median of the 3 generation runs. */
  median_generate_ms: number;
  generate_ms: number[];
  /** Each untimed warm-up training step and generation (empty with --warmup 0). */
  warmup_step_ms: number[];
  warmup_generate_ms: number[];
  model: Workload;
  note?: string;
  profile?: { train: Profile; generate: Profile };
}

const PROMPT = 64;

/** The warm-up's default: 20 steps where a JIT must settle (the fast cpu engine), else none. */
export const DEFAULT_WARMUP_CPU = 20;

/** The reference's median: sorted(times[1:])[len // 2] (upper median for an even count). */
function timedMedian(times: number[]): number {
  const t = times.slice(1).sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const seed = o.seed ?? 0;
  const choice = await initBackend(o.backend ?? 'auto');
  const w = workloadFrom(o, choice.name === 'cpu' ? DEFAULT_WARMUP_CPU : 0);
  const { model, params: baseParams } = benchModel(w, seed);
  const adapterCfg = benchAdapterConfig(w);
  const newAdapter = (adapterSeed: number) => new InjectedAdapter(model, adapterCfg, initialState(targetedLinears(model, adapterCfg.targets), w.rank, false, adapterSeed));
  let adapter: InjectedAdapter | undefined;
  try {
    const tokens = benchTokens(w, seed);
    const examples = benchExamples(tokens);
    const prompts = tokens.map((seq) => seq.slice(0, Math.min(PROMPT, w.ctx)));
    const trainOpts = (steps: number, onStep?: (loss: number) => void) => benchTrainOptions(w, steps, onStep);
    const timeSteps = async (vars: tf.Variable[], steps: number, batchSeed: string) => {
      const ms: number[] = [];
      let last = performance.now();
      const losses = await trainLocally(model, vars, examples, Rng.derive(seed, batchSeed), trainOpts(steps, () => {
        const now = performance.now();
        ms.push(now - last);
        last = now;
      }));
      return { ms, losses };
    };
    const timeGenerations = async (runs: number) => {
      const ms: number[] = [];
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        await generate(model, prompts, { maxNewTokens: w.gen, ignoreEos: true });
        ms.push(performance.now() - t0);
      }
      return ms;
    };

    // Untimed warm-up on an adapter of its own, removed before the timed run.
    let warmupSteps: number[] = [];
    let warmupGen: number[] = [];
    if (w.warmup > 0) {
      const warm = newAdapter(seed + 1);
      try {
        // Generations, then steps: each timed phase below then follows the other kind of work, as here.
        warmupGen = await timeGenerations(Math.ceil(w.warmup / 4));
        warmupSteps = (await timeSteps(warm.variables(['A', 'B']), w.warmup, 'bench-warmup')).ms;
      } finally {
        warm.remove();
      }
    }

    adapter = newAdapter(seed);
    const vars = adapter.variables(['A', 'B']);
    const { ms: stepMs, losses } = await timeSteps(vars, w.steps, 'bench-batches');
    const genMs = await timeGenerations(3);

    let profile: BenchResult['profile'];
    if (o.profile) {
      const train = await profileKernels(async () => {
        await trainLocally(model, vars, examples, Rng.derive(seed, 'bench-profile'), trainOpts(1));
      });
      const gen = await profileKernels(async () => {
        await generate(model, prompts, { maxNewTokens: w.gen, ignoreEos: true });
      });
      profile = { train, generate: gen };
    }

    const params = baseParams + vars.reduce((s, v) => s + v.size, 0);
    const sortedGen = genMs.slice().sort((a, b) => a - b);
    const blas = getBlas();
    return {
      impl: 'colora',
      backend: choice.name,
      tf_backend: tf.getBackend(),
      blas: choice.name === 'cpu' ? blas.kind : 'n/a',
      simd: choice.name === 'cpu' && getSimd() !== undefined,
      threads: choice.name === 'cpu' ? (blas.threads ?? 'n/a') : 'n/a',
      params,
      train_tokens_per_s: round1((w.batch * (w.ctx - 1) * 1000) / timedMedian(stepMs)),
      generate_tokens_per_s: round1((w.batch * w.gen * 1000) / sortedGen[1]),
      peak_rss_mb: round1(process.resourceUsage().maxRSS / 1024),
      final_loss: Math.round(losses[losses.length - 1] * 1e6) / 1e6,
      median_step_ms: round1(timedMedian(stepMs)),
      step_ms: stepMs.map(round1),
      median_generate_ms: round1(sortedGen[1]),
      generate_ms: genMs.map(round1),
      warmup_step_ms: warmupSteps.map(round1),
      warmup_generate_ms: warmupGen.map(round1),
      model: w,
      ...(choice.note ? { note: choice.note } : {}),
      ...(profile ? { profile } : {}),
    };
  } finally {
    adapter?.remove();
    model.dispose();
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export async function benchCommand(opts: Record<string, unknown>): Promise<void> {
  const o = opts as BenchOptions;
  const profile = o.profile ?? process.env.COLORA_BENCH_PROFILE === '1';
  const r = await runBench({ ...o, profile });
  if (r.profile) {
    process.stderr.write(`${formatProfile('train step', r.profile.train)}\n${formatProfile(`generate ${r.model.gen} tokens`, r.profile.generate)}\n`);
  }
  if (o.json) {
    const { profile: _p, ...rest } = r;
    process.stdout.write(`${JSON.stringify(rest)}\n`);
    return;
  }
  const m = r.model;
  const lines = [
    `colora bench: backend ${r.backend} (tfjs '${r.tf_backend}'${r.backend === 'cpu' ? `, BLAS ${r.blas}, threads ${r.threads}, SIMD ${r.simd ? 'on' : 'off'}` : ''})`,
    `workload: ${m.arch}, ${m.layers} layers, d ${m.d}, ${m.heads} heads${m.arch === 'llama' ? ` (${m.kvHeads} kv heads), SwiGLU ${m.ffn}` : ''}, vocab ${m.vocab}, ctx ${m.ctx}, batch ${m.batch}, LoRA rank ${m.rank} on ${benchAdapterConfig(m).targets.join(', ')}; ${r.params} parameters`,
    ...(m.warmup > 0
      ? [`warm-up:  ${m.warmup} training steps (${r.warmup_step_ms[0]} ms first, ${r.warmup_step_ms[r.warmup_step_ms.length - 1]} ms last) and ${r.warmup_generate_ms.length} generations (${r.warmup_generate_ms.join(', ')} ms), untimed`]
      : []),
    `train:    ${r.train_tokens_per_s} tokens/s (median of ${m.steps - 1} steps after warm-up; steps ${r.step_ms.join(', ')} ms), loss ${r.final_loss}`,
    `generate: ${r.generate_tokens_per_s} tokens/s (${m.gen} tokens after a ${Math.min(PROMPT, m.ctx)}-token prompt, batch ${m.batch}; runs ${r.generate_ms.join(', ')} ms)`,
    `peak RSS: ${r.peak_rss_mb} MB`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
