/**
 * `colora bench --arch llama` runs PyTorch's workload: ../shared/bench/torch_reference.py
 * --arch llama is run (its own code, through test/helpers/torch-bench-run.py) on a tiny shape with
 * grouped-query heads and a head size that is not a multiple of 4; its initial weights, LoRA
 * factors and tokens are loaded into the bench's Llama workload (bench-workload.ts), which must
 * reach the reference's last-step loss to 1e-4 relative on the fast engine and on plain tfjs.
 * Skips naming what is missing when the script or a python3 with torch is not here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InjectedAdapter } from '../src/adapters/inject.js';
import type { AdapterState } from '../src/adapters/state.js';
import { initBackend } from '../src/engine/backend.js';
import { benchAdapterConfig, benchExamples, benchTrainOptions, llamaBenchConfig, workloadFrom } from '../src/train/bench-workload.js';
import { Llama } from '../src/model/llama.js';
import { trainLocally } from '../src/train/local-training.js';
import { Rng } from '../src/util/rng.js';
import { REPO_ROOT, sharedPath, skipUnlessShared } from './helpers/shared.js';

const SCRIPT = 'bench/torch_reference.py';
const ARGS = { layers: 2, d: 24, heads: 4, kvHeads: 2, vocab: 48, ctx: 12, batch: 3, rank: 2, steps: 4 };

/** A python3 that imports torch (the reference's own interpreter first), or undefined. */
function torchPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return undefined;
}

const python = torchPython();
const skip = skipUnlessShared(SCRIPT) || (python ? false : 'no python3 with torch here');

interface TorchRun {
  params: Record<string, [number[], number[]]>;
  tokens: number[][];
  loss: number;
}

function runTorch(dir: string): TorchRun {
  const out = join(dir, 'torch.json');
  const a = ARGS;
  const argv = ['--arch', 'llama', '--layers', a.layers, '--d', a.d, '--heads', a.heads, '--kv-heads', a.kvHeads, '--vocab', a.vocab, '--ctx', a.ctx, '--batch', a.batch, '--rank', a.rank, '--steps', a.steps].map(String);
  const r = spawnSync(python as string, [join(REPO_ROOT, 'test', 'helpers', 'torch-bench-run.py'), sharedPath(SCRIPT), out, ...argv], { encoding: 'utf8' });
  assert.equal(r.status, 0, `torch reference failed: ${r.stderr}`);
  return JSON.parse(readFileSync(out, 'utf8')) as TorchRun;
}

/** The reference's parameters under the Llama model's names (linear weights [out, in] → [in, out]) and its LoRA factors. */
function fromTorch(run: TorchRun, layers: number): { arrays: Map<string, { shape: number[]; data: Float32Array }>; state: AdapterState } {
  const get = (n: string) => {
    const p = run.params[n];
    assert.ok(p, `reference has no parameter ${n}`);
    return { shape: p[0], data: Float32Array.from(p[1]) };
  };
  const transposed = (n: string) => {
    const { shape, data } = get(n);
    const [o, i] = shape;
    const t = new Float32Array(o * i);
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) t[c * o + r] = data[r * i + c];
    return { shape: [i, o], data: t };
  };
  const arrays = new Map<string, { shape: number[]; data: Float32Array }>();
  const state: AdapterState = new Map();
  arrays.set('embed_tokens.weight', get('embed.weight'));
  arrays.set('norm.weight', get('norm'));
  arrays.set('lm_head.weight', get('lm_head.weight'));
  for (let l = 0; l < layers; l++) {
    const b = `blocks.${l}`;
    const h = `layers.${l}`;
    arrays.set(`${h}.input_layernorm.weight`, get(`${b}.n1`));
    arrays.set(`${h}.post_attention_layernorm.weight`, get(`${b}.n2`));
    arrays.set(`${h}.self_attn.q_proj.weight`, transposed(`${b}.q_proj.base.weight`));
    arrays.set(`${h}.self_attn.k_proj.weight`, transposed(`${b}.k_proj.weight`));
    arrays.set(`${h}.self_attn.v_proj.weight`, transposed(`${b}.v_proj.base.weight`));
    arrays.set(`${h}.self_attn.o_proj.weight`, transposed(`${b}.o_proj.weight`));
    arrays.set(`${h}.mlp.gate_proj.weight`, transposed(`${b}.gate.weight`));
    arrays.set(`${h}.mlp.up_proj.weight`, transposed(`${b}.up.weight`));
    arrays.set(`${h}.mlp.down_proj.weight`, transposed(`${b}.down.weight`));
    for (const proj of ['q_proj', 'v_proj']) state.set(`${h}.self_attn.${proj}`, { A: get(`${b}.${proj}.A`).data, B: get(`${b}.${proj}.B`).data });
  }
  return { arrays, state };
}

test('bench --arch llama: the workload reaches torch_reference.py --arch llama\'s loss on the same weights and tokens (1e-4)', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'colora-bench-llama-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ref = runTorch(dir);
  const w = workloadFrom({ arch: 'llama', ...ARGS, warmup: 0 }, 0);
  assert.equal(w.ffn, 64, "the reference's default SwiGLU width for d 24");
  const { arrays, state } = fromTorch(ref, w.layers);
  for (const backend of ['cpu', 'tfjs-cpu'] as const) {
    await initBackend(backend);
    const model = Llama.fromArrays(llamaBenchConfig(w), arrays);
    const adapter = new InjectedAdapter(model, benchAdapterConfig(w), state);
    try {
      const losses = await trainLocally(model, adapter.variables(['A', 'B']), benchExamples(ref.tokens), new Rng(0, 'bench-llama-test'), benchTrainOptions(w, w.steps));
      const last = losses[losses.length - 1];
      assert.ok(Math.abs(last - ref.loss) <= 1e-4 * Math.abs(ref.loss), `${backend} (tfjs '${tf.getBackend()}'): loss ${last} vs PyTorch ${ref.loss}`);
      // Training moved the loss (the LoRA update is part of what is compared).
      assert.notEqual(losses[0], last);
    } finally {
      adapter.remove();
      model.dispose();
    }
  }
});
