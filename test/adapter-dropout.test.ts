/**
 * adapter.dropout (PEFT's lora_dropout): a mask on the adapter branch's input only, while training,
 * drawn from a seeded stream; off (and the fused low-rank path back) at evaluation.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend.js';
import type { GPT2Config } from '../src/model/config.js';
import { GPT2 } from '../src/model/gpt2.js';
import { initGPT2Arrays } from '../src/model/init.js';
import { AdapterLayer } from '../src/adapters/layer.js';
import { InjectedAdapter, targetedLinears } from '../src/adapters/inject.js';
import { identity, initialState, type AdapterState } from '../src/adapters/state.js';
import type { AdapterConfig } from '../src/adapters/config.js';
import { trainLocally } from '../src/train/local-training.js';
import type { Example } from '../src/train/batch.js';
import { Rng } from '../src/util/rng.js';
import { loadExperimentConfig } from '../src/config/load.js';
import { runExperiment } from '../src/experiment/run-experiment.js';
import { readJsonl } from '../src/experiment/results-files.js';
import type { RoundLog } from '../src/experiment/records.js';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { tempDir } from './helpers/temp.js';
import { REPO_ROOT } from './helpers/shared.js';
import { loadModel } from '../src/model/families.js';
import type { CausalLM } from '../src/model/causal-lm.js';

const TINY: GPT2Config = {
  vocabSize: 24, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32,
  activation: 'gelu_new', layerNormEpsilon: 1e-5, tieWordEmbeddings: true,
};

before(async () => {
  await initBackend('cpu'); // the fast engine, whose fused low-rank product dropout must bypass
});

function cfg(dropout: number): AdapterConfig {
  return { rank: 3, alpha: 6, targets: ['attn.c_attn', 'mlp.c_fc'], dropout, personal: false };
}

function randomState(model: GPT2, c: AdapterConfig, seed: number): AdapterState {
  const rng = new Rng(seed);
  const s = initialState(targetedLinears(model, c.targets), c.rank, false, seed);
  for (const f of s.values()) {
    rng.fillNormal(f.A, 0.3);
    rng.fillNormal(f.B, 0.3);
  }
  return s;
}

const EXAMPLES: Example[] = Array.from({ length: 12 }, (_, i) => ({
  promptIds: [1 + (i % 5), 7, 3 + (i % 7), 2],
  targetIds: [(i * 5) % 23, (i * 3 + 1) % 23, 0],
}));

/** Train an adapter with the given dropout; `hook` false = no dropout stream at all (the code before dropout existed). */
async function trainLosses(dropout: number, seed: number, hook = true): Promise<{ losses: number[]; evalA: Float32Array; evalB: Float32Array }> {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 0));
  const c = cfg(dropout);
  const adapter = new InjectedAdapter(model, c, randomState(model, c, 5));
  try {
    const losses = await trainLocally(model, adapter.variables(['A', 'B']), EXAMPLES, Rng.derive(1, 'batches'), {
      steps: 6, batchSize: 4, lr: 0.05, warmupSteps: 0, firstStep: 0, padId: 0, where: 'test',
      optimizer: { kind: 'adamw', betas: [0.9, 0.999], weightDecay: 0, gradClip: 1 },
      beforeStep: hook ? (s) => adapter.setDropout((layer) => Rng.derive(seed, 'lora-dropout', s, layer)) : undefined,
    });
    adapter.setDropout(undefined);
    const ids = tf.tensor2d([[1, 7, 3, 2, 5, 9]], undefined, 'int32');
    const evalA = model.forward(ids).dataSync() as Float32Array;
    const evalB = model.forward(ids).dataSync() as Float32Array;
    ids.dispose();
    return { losses, evalA: Float32Array.from(evalA), evalB: Float32Array.from(evalB) };
  } finally {
    adapter.remove();
    model.dispose();
  }
}

test('dropout masks the adapter input: 0 or x/(1-p), the same mask for the same stream, none at evaluation', () => {
  const info = { name: 'l', inFeatures: 4, outFeatures: 4 };
  const r = 4;
  const eye = new AdapterLayer(info, r, 1, { A: identity(r), B: identity(r) }, 0.5);
  const x = tf.tensor2d(Array.from({ length: 64 * 4 }, (_, i) => 1 + (i % 9)), [64, 4]);
  const xs = x.dataSync();
  // Evaluation: no stream, delta = x exactly and the fused factors are offered.
  assert.deepEqual(Array.from(eye.delta(x).dataSync()), Array.from(xs));
  assert.ok(eye.lowRank());
  eye.setDropoutStream(new Rng(11));
  assert.equal(eye.lowRank(), undefined, 'no fused product while dropping');
  const masked = eye.delta(x).dataSync();
  let zeros = 0;
  for (let i = 0; i < masked.length; i++) {
    if (masked[i] === 0) zeros++;
    else assert.ok(Math.abs(masked[i] - 2 * xs[i]) < 1e-5, `kept elements are scaled by 1/(1-p): ${masked[i]} vs ${xs[i]}`);
  }
  assert.ok(zeros > 0.35 * masked.length && zeros < 0.65 * masked.length, `about half dropped: ${zeros} of ${masked.length}`);

  // A layer with real factors and the same stream: delta = scale · ((m ⊙ x) Aᵀ) Bᵀ with that mask.
  const rng = new Rng(4);
  const A = rng.fillNormal(new Float32Array(2 * 4)), B = rng.fillNormal(new Float32Array(4 * 2));
  const real = new AdapterLayer(info, 2, 1.5, { A, B }, 0.5);
  real.setDropoutStream(new Rng(11));
  const got = real.delta(x).dataSync();
  for (let n = 0; n < 64; n++)
    for (let o = 0; o < 4; o++) {
      let want = 0;
      for (let k = 0; k < 2; k++) {
        let h = 0;
        for (let i = 0; i < 4; i++) h += masked[n * 4 + i] * A[k * 4 + i];
        want += 1.5 * h * B[o * 2 + k];
      }
      assert.ok(Math.abs(got[n * 4 + o] - want) < 1e-4, `delta[${n}, ${o}] ${got[n * 4 + o]} vs ${want}`);
    }
  real.setDropoutStream(undefined);
  assert.ok(real.lowRank());
  for (const t of [x, eye.A, eye.B, real.A, real.B]) t.dispose();
});

const LLAMA = join(REPO_ROOT, 'test', 'fixtures', 'llama-family', 'tied');
function frozenPathUnmasked(family: 'gpt2' | 'llama'): void {
  const model: CausalLM = family === 'gpt2' ? GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 0)) : loadModel(LLAMA).model;
  const ids = tf.tensor2d([[1, 5, 7, 2, 9, 3]], undefined, 'int32');
  const base = model.forward(ids).dataSync().slice();
  const c = { ...cfg(0.5), targets: family === 'gpt2' ? cfg(0.5).targets : ['q_proj', 'up_proj'] };
  const adapter = new InjectedAdapter(model, c, initialState(targetedLinears(model, c.targets), c.rank, false, 2)); // B = 0
  adapter.setDropout((layer) => Rng.derive(3, layer));
  const dropped = model.forward(ids).dataSync();
  assert.deepEqual(Array.from(dropped), Array.from(base));
  // The gradient reaching B goes through the masked input: it differs from evaluation's.
  const gradB = (on: boolean) => {
    adapter.setDropout(on ? (layer) => Rng.derive(3, layer) : undefined);
    const vars = adapter.variables(['B']);
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(model.forward(ids))) as tf.Scalar, vars);
    const g = grads[vars[0].name].dataSync().slice();
    tf.dispose(grads);
    return g;
  };
  const gOn = gradB(true), gOff = gradB(false);
  assert.ok(gOn.some((v, i) => Math.abs(v - gOff[i]) > 1e-6), 'dropout changes the adapter gradient');
  adapter.remove();
  ids.dispose();
  model.dispose();
}

for (const family of ['gpt2', 'llama'] as const)
  test(`the frozen path is not masked (${family}): with B = 0 a dropping adapter leaves the logits as without it; the adapter gradient sees the mask`, () => frozenPathUnmasked(family));

test('training: dropout 0 is bit-identical to no dropout; dropout > 0 changes losses, repeats for a seed, and evaluation stays deterministic', async () => {
  const none = await trainLosses(0, 1, false);
  const zero = await trainLosses(0, 1);
  assert.deepEqual(zero.losses, none.losses);
  assert.deepEqual(Array.from(zero.evalA), Array.from(none.evalA));
  const a = await trainLosses(0.3, 1);
  const b = await trainLosses(0.3, 1);
  const other = await trainLosses(0.3, 2);
  assert.notDeepEqual(a.losses, none.losses);
  assert.deepEqual(a.losses, b.losses, 'a fixed seed repeats the masks');
  assert.notDeepEqual(a.losses, other.losses, 'another seed, other masks');
  assert.deepEqual(Array.from(a.evalA), Array.from(a.evalB), 'evaluation has no dropout');
  assert.deepEqual(Array.from(a.evalA), Array.from(b.evalA));
});

test('colora train applies adapter.dropout from the config: losses change, a rerun repeats them, results too', async () => {
  const modelDir = await makeTinyModelDir();
  const run = async (dropout: number) => {
    const dir = tempDir('colora-dropout-');
    const file = join(dir, 'exp.yaml');
    writeFileSync(
      file,
      `name: dropout\nseed: 4\nmodel: ${modelDir}\nbackend: cpu\n` +
        `data: { tasks_dir: builtin, train_per_task: 8, test_per_task: 3, max_source_tokens: 120, max_target_tokens: 8 }\n` +
        `clients: [{ name: a, tasks: [task205_remove_even_elements] }]\n` +
        `adapter: { rank: 4, alpha: 8, targets: [attn.c_attn, mlp.c_fc], dropout: ${dropout} }\n` +
        `methods: [local]\ntrain: { rounds: 1, local_steps: 3, batch_size: 4, lr: 0.01 }\neval: { max_new_tokens: 4, batch_size: 4 }\n`,
    );
    const out = join(dir, 'run');
    await runExperiment(loadExperimentConfig(file), { out, quiet: true });
    return { loss: readJsonl<RoundLog>(join(out, 'log.jsonl')).map((l) => l.loss_mean), results: readFileSync(join(out, 'results.csv'), 'utf8') };
  };
  const off = await run(0);
  const on = await run(0.5);
  const again = await run(0.5);
  assert.notDeepEqual(on.loss, off.loss);
  assert.deepEqual(on.loss, again.loss);
  assert.equal(on.results, again.results);
});

test('frozen corrections (FedEx dense R, PiSSA low-rank RA/RB) belong to the frozen path: dropout leaves them unmasked', () => {
  const info = { name: 'l', inFeatures: 4, outFeatures: 3 };
  const rng = new Rng(9);
  const x = tf.tensor2d(rng.fillNormal(new Float32Array(32 * 4)), [32, 4]);
  // B = 0, so the trained branch adds nothing and delta(x) is the correction alone, masked or not.
  const base = { A: rng.fillNormal(new Float32Array(2 * 4)), B: new Float32Array(3 * 2) };
  const R = rng.fillNormal(new Float32Array(3 * 4));
  const RA = rng.fillNormal(new Float32Array(1 * 4)), RB = rng.fillNormal(new Float32Array(3 * 1));
  for (const extra of [{ R }, { RA, RB }]) {
    const layer = new AdapterLayer(info, 2, 1.5, { ...base, ...extra }, 0.5);
    const evalDelta = layer.delta(x).dataSync().slice();
    layer.setDropoutStream(new Rng(1));
    const trainDelta = layer.delta(x).dataSync();
    assert.ok(evalDelta.some((v) => v !== 0), 'the correction is not zero');
    for (let i = 0; i < evalDelta.length; i++) assert.ok(Math.abs(trainDelta[i] - evalDelta[i]) < 1e-5, `${Object.keys(extra)}: ${trainDelta[i]} vs ${evalDelta[i]}`);
    layer.dispose();
  }
  x.dispose();
});
