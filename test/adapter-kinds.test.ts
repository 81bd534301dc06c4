import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { GPT2Config } from '../src/model/config.js';
import { GPT2 } from '../src/model/gpt2.js';
import { initGPT2Arrays } from '../src/model/init.js';
import { InjectedAdapter, targetedLinears } from '../src/adapters/inject.js';
import { initialAdapterState, readFrozenWeights, type StartOptions } from '../src/adapters/init.js';
import { kindFactors, type AdapterConfig, type AdapterKind } from '../src/adapters/config.js';
import { loadAdapter, saveAdapter, applyAdapterDir } from '../src/adapters/peft-io.js';
import { gpt2Family } from '../src/model/gpt2-family.js';
import type { AdapterState, FactorName } from '../src/adapters/state.js';
import { batchLoss } from '../src/train/loss.js';
import { makeBatch } from '../src/train/batch.js';
import { Rng } from '../src/util/rng.js';

const TINY: GPT2Config = {
  vocabSize: 24, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32,
  activation: 'gelu_new', layerNormEpsilon: 1e-5, tieWordEmbeddings: true,
};
const IDS = tf.tensor2d([[1, 5, 7, 2, 9, 3], [4, 4, 8, 1, 0, 6]], undefined, 'int32');
const TARGETS = ['attn.c_attn', 'mlp.c_proj'];
const KINDS: AdapterKind[] = ['lora', 'pissa', 'svfit', 'loldu'];
const BATCH = makeBatch(
  [
    { promptIds: [1, 5, 7], targetIds: [2, 9, 0] },
    { promptIds: [4, 4], targetIds: [8, 1, 6, 0] },
  ],
  0,
);

function cfg(kind: AdapterKind, personal = false, core: 'full' | 'diagonal' = 'full'): AdapterConfig {
  return { rank: 3, alpha: 6, targets: TARGETS, dropout: 0, personal, kind, ...(personal ? { core } : {}) };
}

async function start(model: GPT2, c: AdapterConfig, s: Partial<StartOptions> = {}): Promise<AdapterState> {
  const st: StartOptions = { coreInit: 'identity', coreSigma: 1e-5, sharedInit: 'peft', ...s };
  const weights = await readFrozenWeights(model, c.targets, 'test');
  return initialAdapterState(targetedLinears(model, c.targets), c, 7, st, weights);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** The trainable factors of a kind (CoLoRA adds S). */
function trainable(c: AdapterConfig): FactorName[] {
  return kindFactors(c.kind, c.personal ? ['A', 'B', 'S'] : ['A', 'B']);
}

/** Move every trainable factor off its start, so gradients and exports are generic. */
function perturb(state: AdapterState, c: AdapterConfig, seed: number): void {
  const rng = new Rng(seed);
  for (const f of state.values())
    for (const k of trainable(c)) {
      const v = f[k]!;
      for (let i = 0; i < v.length; i++) v[i] += 0.3 * rng.normal();
    }
}

function checkGradients(model: GPT2, a: InjectedAdapter, factors: FactorName[], what: string): number {
  const vars = a.variables(factors);
  const { grads } = tf.variableGrads(() => batchLoss(model, BATCH), vars);
  const lossAt = () => tf.tidy(() => batchLoss(model, BATCH).dataSync()[0]);
  const h = 1e-2;
  let checked = 0;
  for (const v of vars) {
    const g = grads[v.name].dataSync();
    const values = v.dataSync().slice() as Float32Array;
    for (const i of [0, Math.floor(values.length / 2), values.length - 1]) {
      const bump = (d: number) => {
        const w = values.slice();
        w[i] += d;
        v.assign(tf.tensor(w, v.shape));
        return lossAt();
      };
      const fd = (bump(h) - bump(-h)) / (2 * h);
      v.assign(tf.tensor(values, v.shape));
      assert.ok(Math.abs(fd - g[i]) < 2e-3 + 2e-2 * Math.abs(fd), `${what} ${v.name}[${i}]: analytic ${g[i]} vs numeric ${fd}`);
      checked++;
    }
  }
  tf.dispose(grads);
  return checked;
}

test('every adapter kind (and CoLoRA on it) reproduces the base logits at its start (1e-5)', async () => {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 1));
  const base = model.forward(IDS).dataSync().slice();
  for (const kind of KINDS)
    for (const personal of [false, true]) {
      const c = cfg(kind, personal);
      const a = new InjectedAdapter(model, c, await start(model, c));
      const d = maxDiff(model.forward(IDS).dataSync(), base);
      assert.ok(d < 1e-5, `${kind}${personal ? '+colora' : ''}: max logit difference ${d}`);
      // The start is a real decomposition, not an empty adapter: moving the trained part moves the logits.
      const moved = await start(model, c);
      perturb(moved, c, 3);
      a.load(moved);
      assert.ok(maxDiff(model.forward(IDS).dataSync(), base) > 1e-3, `${kind}: the adapter has no effect`);
      a.remove();
    }
  model.dispose();
});

test('only the trained part of each kind is a variable it trains: lora/pissa A, B; svfit/loldu D', () => {
  assert.deepEqual(kindFactors('pissa', ['A', 'B']), ['A', 'B']);
  assert.deepEqual(kindFactors('svfit', ['A', 'B']), ['D']);
  assert.deepEqual(kindFactors('loldu', ['A', 'B', 'S']), ['D', 'S']);
});

test('finite-difference gradients for each adapter kind, alone and under a CoLoRA core (full and diagonal), and for each CoLoRA start', async () => {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 2));
  for (const kind of KINDS)
    for (const [personal, core] of [[false, 'full'], [true, 'full'], [true, 'diagonal']] as const) {
      const c = cfg(kind, personal, core);
      const state = await start(model, c);
      perturb(state, c, 5);
      const a = new InjectedAdapter(model, c, state);
      const n = checkGradients(model, a, trainable(c), `${kind}/${personal ? core : 'plain'}`);
      assert.equal(n, 4 * 3 * trainable(c).length); // 4 layers (2 targets × 2 blocks) × 3 entries per variable
      a.remove();
    }
  // CoLoRA's other starts on kind lora: PiSSA's shared factors with a gaussian or zero core (with and without a correction).
  for (const coreInit of ['gaussian', 'zero'] as const)
    for (const core of ['full', 'diagonal'] as const) {
      const c = cfg('lora', true, core);
      const state = await start(model, c, { coreInit, sharedInit: 'svd', coreSigma: 0.1 });
      assert.equal(!!state.get('h.0.attn.c_attn')!.RA, coreInit === 'gaussian', 'a correction exactly when the start is not a zero update');
      perturb(state, c, 6);
      const a = new InjectedAdapter(model, c, state);
      assert.equal(checkGradients(model, a, ['A', 'B', 'S'], `svd/${coreInit}/${core}`), 4 * 3 * 3);
      a.remove();
    }
  model.dispose();
});

test('export: the PEFT file alone (plain LoRA on the original base, PiSSA as rank r + r) and the exact factors give the live logits', async (t) => {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 3));
  for (const kind of KINDS)
    for (const personal of [false, true]) {
      const c = cfg(kind, personal, personal ? 'diagonal' : 'full');
      const state = await start(model, c);
      perturb(state, c, 9);
      const live = new InjectedAdapter(model, c, state);
      const expected = model.forward(IDS).dataSync().slice();
      live.remove();
      const dir = mkdtempSync(join(tmpdir(), 'colora-kind-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      saveAdapter(dir, c, state, 'builtin:tiny', gpt2Family.peft);
      const exact = applyAdapterDir(model, dir);
      assert.ok(maxDiff(model.forward(IDS).dataSync(), expected) < 1e-5, `${kind}: exact factors`);
      exact.remove();
      assert.equal(loadAdapter(dir).config.kind, kind === 'lora' ? undefined : kind);
      // What a PEFT user loads: adapter_model.safetensors + adapter_config.json only.
      const peftDir = mkdtempSync(join(tmpdir(), 'colora-peft-'));
      t.after(() => rmSync(peftDir, { recursive: true, force: true }));
      for (const f of ['adapter_config.json', 'adapter_model.safetensors']) (await import('node:fs')).copyFileSync(join(dir, f), join(peftDir, f));
      const peft = loadAdapter(peftDir);
      const hasCorrection = [...state.values()].some((f) => f.RA);
      assert.equal(peft.config.rank, hasCorrection ? 6 : 3, `${kind}: PEFT rank`);
      assert.equal(peft.config.alpha / peft.config.rank, 2, 'alpha/r unchanged');
      const plain = applyAdapterDir(model, peftDir);
      const d = maxDiff(model.forward(IDS).dataSync(), expected);
      assert.ok(d < 1e-5, `${kind}${personal ? '+colora' : ''}: PEFT file differs by ${d}`);
      plain.remove();
    }
  model.dispose();
});
