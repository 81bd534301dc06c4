/**
 * The GPU backends: --backend webgpu (tfjs-backend-webgpu on Dawn) and --backend tensorflow
 * (tfjs-node, installed by the user).
 *
 * Everywhere: without a WebGPU adapter, `--backend webgpu` is one usage line (exit 2) and auto
 * passes over it without a word; without tfjs-node, `--backend tensorflow` is one usage line.
 *
 * With an adapter (a GPU, or for testing Mesa's llvmpipe: COLORA_WEBGPU_COMPAT=1
 * COLORA_WEBGPU_DAWN=backend=opengl EGL_PLATFORM=surfaceless, see docs/gpu.md): every op of
 * src/engine/ops.ts that training and generation use, and its gradients, on webgpu against plain
 * tfjs cpu on random inputs; the embedding gradient (UnsortedSegmentSum with repeated ids); and a
 * tiny bench whose loss equals the cpu backend's to 1e-3 relative. Skipped, with the reason, when
 * there is no adapter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend.js';
import { runBench } from '../src/train/bench-command.js';
import * as ops from '../src/engine/ops.js';
import { TENSORFLOW_PACKAGES } from '../src/engine/tensorflow-backend.js';
import { probeAdapter, reasonFromDawn, startWebGPU, tfjsFlags } from '../src/engine/webgpu-backend.js';
import { UsageError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, randInt, randn, toTensor, type Arr, type Result } from './engine-helpers.js';

/** Dawn restricted to Vulkan with no driver: no adapter on any machine. */
const NO_ADAPTER_ENV = { COLORA_WEBGPU_DAWN: 'backend=vulkan', VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json', COLORA_WEBGPU_COMPAT: '0' };

async function withEnv<T>(vars: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function oneLineUsage(prefix: string) {
  return (e: unknown) => e instanceof UsageError && e.exitCode === 2 && !e.message.includes('\n') && e.message.startsWith(prefix);
}

test('reasonFromDawn turns Dawn\'s diagnostics into one line', () => {
  const noDriver = 'Warning: loader_get_json: Failed to open JSON file /x.json\nWarning: vkCreateInstance: Found no drivers!\nWarning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER\n    at CheckVkSuccessImpl (VulkanError.cpp:106)\n';
  assert.match(reasonFromDawn(noDriver), /no Vulkan driver/);
  const features = 'Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.\n - While initializing adapter (backend=BackendType::Vulkan)\n    at InitializeImpl (PhysicalDeviceVk.cpp:257)\n';
  assert.equal(reasonFromDawn(features), 'Dawn found no usable adapter: Vulkan shaderUniform*ArrayDynamicIndexing required');
  assert.match(reasonFromDawn(''), /no WebGPU adapter/);
  for (const s of [noDriver, features, '']) assert.ok(!reasonFromDawn(s).includes('\n'));
});

test('COLORA_WEBGPU_FLAGS parses tfjs flags; a malformed entry is a usage error', () => {
  assert.deepEqual(tfjsFlags({ COLORA_WEBGPU_FLAGS: 'WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64, WEBGPU_CPU_FORWARD=false' }), { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 64, WEBGPU_CPU_FORWARD: false });
  assert.deepEqual(tfjsFlags({}), {});
  assert.throws(() => tfjsFlags({ COLORA_WEBGPU_FLAGS: 'nonsense' }), UsageError);
});

test('no adapter: --backend webgpu is one usage line (exit 2); auto says nothing about it', async () => {
  await withEnv(NO_ADAPTER_ENV, async () => {
    const probe = probeAdapter();
    assert.equal(probe.adapter, undefined);
    assert.ok(probe.reason && !probe.reason.includes('\n'), probe.reason);
    await assert.rejects(initBackend('webgpu'), oneLineUsage('--backend webgpu: '));
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      const choice = await initBackend('auto');
      assert.equal(choice.name, 'cpu');
    } finally {
      process.stderr.write = write;
    }
    assert.ok(!lines.some((l) => /webgpu|Dawn|Vulkan/i.test(l)), `auto said: ${lines.join('')}`);
  });
});

test('--backend tensorflow without tfjs-node is one usage line naming docs/gpu.md', async (t) => {
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      await import(pkg);
      t.skip(`${pkg} is installed here`);
      return;
    } catch {
      // absent, as expected
    }
  }
  await assert.rejects(initBackend('tensorflow'), (e: unknown) => oneLineUsage('--backend tensorflow: ')(e) && /docs\/gpu\.md/.test((e as Error).message));
});

// ---- with a WebGPU adapter ----

const probe = probeAdapter();
const noGpu = probe.adapter ? false : `no WebGPU adapter: ${probe.reason} (for a software one on a CPU machine see docs/gpu.md)`;

/** Run f on `backend` with fresh tensors from `inputs`; outputs read with await data() (webgpu has no sync read in Node). */
async function runOnAsync(backend: string, inputs: Arr[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  await initBackend(backend === 'cpu' ? 'tfjs-cpu' : 'webgpu');
  assert.equal(tf.getBackend(), backend);
  const xs = inputs.map(toTensor);
  const r = tf.tidy(() => f(...xs));
  const list = Array.isArray(r) ? r : [r];
  const outs: Result[] = [];
  for (const t of list) outs.push({ shape: t.shape.slice(), data: (await t.data()) as Float32Array });
  tf.dispose(list);
  tf.dispose(xs);
  return outs;
}

/** Value and the gradients of sum(f · r) for a fixed random r, w.r.t. the first nGrad inputs. */
function withGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, nGrad: number, weights: Arr) {
  return (...xs: tf.Tensor[]): tf.Tensor[] => {
    const r = toTensor(weights);
    const value = f(...xs);
    const g = tf.grads((...vs: tf.Tensor[]) => tf.sum(tf.mul(f(...vs, ...xs.slice(nGrad)), r)));
    return [value, ...g(xs.slice(0, nGrad))];
  };
}

async function sameOnWebGPU(what: string, inputs: Arr[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], rtol = 1e-4, atol = 1e-5): Promise<void> {
  const ref = await runOnAsync('cpu', inputs, f);
  const got = await runOnAsync('webgpu', inputs, f);
  assertClose(got, ref, rtol, atol, `${what} on webgpu`);
}

const rng = new Rng(7, 'engine-gpu');

test('webgpu: the model ops and their gradients match tfjs cpu on random inputs', { skip: noGpu }, async () => {
  const N = 24;
  const D = 32;
  const O = 48;
  const x = randn(rng, [N, D]);
  const w = randn(rng, [D, O], 0.2);
  const b = randn(rng, [O]);
  await sameOnWebGPU('linear', [x, w, b], withGrads((x, w, b) => ops.linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), 3, randn(rng, [N, O])));
  const wt = randn(rng, [O, D], 0.2);
  await sameOnWebGPU('linearT', [x, wt], withGrads((x, w) => ops.linearT(x as tf.Tensor2D, w as tf.Tensor2D), 2, randn(rng, [N, O])));
  const g = randn(rng, [D]);
  const be = randn(rng, [D]);
  await sameOnWebGPU('layerNorm', [x, g, be], withGrads((x, g, b) => ops.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5), 3, randn(rng, [N, D])));
  await sameOnWebGPU('geluTanh', [randn(rng, [N, O], 2)], withGrads((x) => ops.geluTanh(x), 1, randn(rng, [N, O])));
  const r = 4;
  const A = randn(rng, [r, D], 0.3);
  const Bm = randn(rng, [O, r], 0.3);
  const res = randn(rng, [N, O]);
  await sameOnWebGPU(
    'linearFused (LoRA + residual)',
    [x, A, Bm, w, b, res],
    withGrads((x, A, B, w, b, res) => ops.linearFused(x as tf.Tensor2D, w as tf.Tensor2D, { b: b as tf.Tensor1D, residual: res as tf.Tensor2D, lowRank: { A: A as tf.Tensor2D, B: B as tf.Tensor2D, scale: 2 } }), 3, randn(rng, [N, O])),
  );
});

test('webgpu: attention (causal, cached, masked), cross-entropy and the embedding gradient match tfjs cpu', { skip: noGpu }, async () => {
  const [B, H, S, hd] = [2, 3, 10, 8];
  for (const T of [S, 3, 1]) {
    const q = randn(rng, [B, H, T, hd]);
    const k = randn(rng, [B, H, S, hd]);
    const v = randn(rng, [B, H, S, hd]);
    await sameOnWebGPU(`causalAttention T=${T}`, [q, k, v], withGrads((q, k, v) => ops.causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D), 3, randn(rng, [B, H, T, hd])));
    const mask: Arr = { shape: [B, S], data: new Int32Array(B * S).map((_, i) => (i % S < 2 && i < S ? 0 : 1)), dtype: 'bool' };
    await sameOnWebGPU(`causalAttentionMasked T=${T}`, [q, k, v, mask], withGrads((q, k, v, m) => ops.causalAttentionMasked(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, m as tf.Tensor2D), 3, randn(rng, [B, H, T, hd])));
  }
  const D = H * hd;
  await sameOnWebGPU('causalSelfAttention', [randn(rng, [B * S, 3 * D])], withGrads((qkv) => ops.causalSelfAttention(qkv as tf.Tensor2D, B, H), 1, randn(rng, [B * S, D])));
  const [N, V] = [20, 37];
  const logits = randn(rng, [N, V], 3);
  const targets = randInt(rng, [N], 0, V - 1);
  const weights: Arr = { shape: [N], data: new Float32Array(N).map((_, i) => (i % 4 === 0 ? 0 : 1)) };
  await sameOnWebGPU('crossEntropy', [logits, targets, weights], (l, t, w) => {
    const f = (l: tf.Tensor) => ops.crossEntropy(l as tf.Tensor2D, t as tf.Tensor1D, w as tf.Tensor1D);
    return [f(l), tf.grad(f)(l)];
  });
  // Greedy decoding's pick, and the gather gradient (UnsortedSegmentSum; ids repeat).
  await sameOnWebGPU('argMax', [logits], (l) => tf.argMax(l, 1).toFloat());
  const table = randn(rng, [V, 16]);
  const ids = randInt(rng, [3, 9], 0, 5);
  await sameOnWebGPU('embedding + gradient', [table, ids], withGrads((t, i) => ops.embedding(t as tf.Tensor2D, i), 1, randn(rng, [3, 9, 16])));
});

test('webgpu: a GPU tensor read synchronously fails with a clear message; after data() it reads', { skip: noGpu }, async () => {
  await initBackend('webgpu');
  // A matrix product runs on the GPU (tfjs forwards small element-wise ops on host values to the CPU).
  const y = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.fill([64, 64], 2)));
  assert.throws(() => y.dataSync(), /await data\(\)/);
  assert.equal((await y.data())[10], 128);
  assert.equal(y.dataSync()[10], 128);
  y.dispose();
});

test('webgpu: a tiny bench trains and generates with the cpu backend\'s loss (1e-3 relative)', { skip: noGpu }, async () => {
  const tiny = { layers: 2, d: 32, heads: 2, vocab: 64, ctx: 16, batch: 2, rank: 2, gen: 4, steps: 3 };
  const gpu = await runBench({ ...tiny, backend: 'webgpu' });
  assert.equal(gpu.tf_backend, 'webgpu');
  assert.ok(gpu.train_tokens_per_s > 0 && gpu.generate_tokens_per_s > 0);
  const cpu = await runBench({ ...tiny, backend: 'cpu' });
  assert.ok(Math.abs(gpu.final_loss - cpu.final_loss) <= 1e-3 * Math.abs(cpu.final_loss), `${gpu.final_loss} vs ${cpu.final_loss}`);
});

test('webgpu for auto refuses a software adapter', { skip: noGpu || (!probe.adapter?.software && 'the adapter here is hardware') }, async () => {
  await assert.rejects(startWebGPU(true), oneLineUsage('--backend webgpu: only a software adapter'));
});
