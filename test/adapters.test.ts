import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { GPT2Config } from '../src/model/config.js';
import { GPT2 } from '../src/model/gpt2.js';
import { initGPT2Arrays } from '../src/model/init.js';
import { InjectedAdapter, targetedLinears } from '../src/adapters/inject.js';
import { initialState, mergePersonal, type AdapterState } from '../src/adapters/state.js';
import { loadAdapter, saveAdapter, applyAdapterDir } from '../src/adapters/peft-io.js';
import { gpt2Family } from '../src/model/gpt2-family.js';
import { matchesTarget, type AdapterConfig } from '../src/adapters/config.js';
import { readSafetensors } from '../src/model/safetensors.js';
import { batchLoss } from '../src/train/loss.js';
import { makeBatch } from '../src/train/batch.js';
import { Rng } from '../src/util/rng.js';

const TINY: GPT2Config = {
  vocabSize: 24, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32,
  activation: 'gelu_new', layerNormEpsilon: 1e-5, tieWordEmbeddings: true,
};
const IDS = tf.tensor2d([[1, 5, 7, 2, 9, 3], [4, 4, 8, 1, 0, 6]], undefined, 'int32');

function tinyModel(seed = 0): GPT2 {
  return GPT2.fromArrays(TINY, initGPT2Arrays(TINY, seed));
}

function cfg(personal: boolean, targets = ['attn.c_attn', 'mlp.c_fc']): AdapterConfig {
  return { rank: 3, alpha: 6, targets, dropout: 0, personal };
}

/** Random non-zero factors, so deltas are not trivially zero. */
function randomState(model: GPT2, c: AdapterConfig, seed: number): AdapterState {
  const rng = new Rng(seed);
  const s = initialState(targetedLinears(model, c.targets), c.rank, c.personal, seed);
  for (const f of s.values()) {
    rng.fillNormal(f.A, 0.3);
    rng.fillNormal(f.B, 0.3);
    if (f.S) rng.fillNormal(f.S, 0.5);
  }
  return s;
}

test('PEFT target matching: suffix at a module boundary only', () => {
  assert.ok(matchesTarget('h.0.attn.c_attn', ['attn.c_attn']));
  assert.ok(matchesTarget('h.0.attn.c_proj', ['c_proj']));
  assert.ok(!matchesTarget('h.0.mlp.c_proj', ['attn.c_proj']));
  assert.ok(!matchesTarget('h.0.attn.xc_attn', ['c_attn']));
});

test('initial adapters (B = 0, S = I) leave the base logits unchanged', () => {
  const model = tinyModel();
  const base = model.forward(IDS).dataSync().slice();
  for (const personal of [false, true]) {
    const c = cfg(personal);
    const a = new InjectedAdapter(model, c, initialState(targetedLinears(model, c.targets), c.rank, personal, 1));
    assert.equal(a.layers.size, 4);
    const withAdapter = model.forward(IDS).dataSync();
    assert.deepEqual(Array.from(withAdapter), Array.from(base));
    a.remove();
  }
  model.dispose();
});

test('CoLoRA layer equals a plain LoRA layer with B·S (the exported adapter)', () => {
  const model = tinyModel();
  const c = cfg(true);
  const state = randomState(model, c, 3);
  const a = new InjectedAdapter(model, c, state);
  const colora = model.forward(IDS).dataSync().slice();
  a.remove();
  const merged: AdapterState = new Map([...state].map(([k, f]) => [k, { A: f.A, B: mergePersonal(f.B, f.S!, c.rank) }]));
  const b = new InjectedAdapter(model, cfg(false), merged);
  const lora = model.forward(IDS).dataSync();
  b.remove();
  let diff = 0;
  for (let i = 0; i < lora.length; i++) diff = Math.max(diff, Math.abs(lora[i] - colora[i]));
  assert.ok(diff < 1e-5, `diff ${diff}`);
  model.dispose();
});

test('adapter gradients match central finite differences (A, B and S)', () => {
  const model = tinyModel(2);
  const c = cfg(true, ['attn.c_attn']);
  const a = new InjectedAdapter(model, c, randomState(model, c, 5));
  const batch = makeBatch(
    [
      { promptIds: [1, 5, 7], targetIds: [2, 9, 0] },
      { promptIds: [4, 4], targetIds: [8, 1, 6, 0] },
    ],
    0,
  );
  const vars = a.variables(['A', 'B', 'S']);
  const { grads } = tf.variableGrads(() => batchLoss(model, batch), vars);
  const lossAt = () => tf.tidy(() => batchLoss(model, batch).dataSync()[0]);
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
      assert.ok(Math.abs(fd - g[i]) < 2e-3 + 2e-2 * Math.abs(fd), `${v.name}[${i}]: analytic ${g[i]} vs numeric ${fd}`);
      checked++;
    }
  }
  assert.equal(checked, 18); // 2 layers × (A, B, S) × 3 entries
  a.remove();
  model.dispose();
});

test('PEFT format round trip: LoRA and CoLoRA (exact factors, plus merged B·S for PEFT users)', () => {
  const model = tinyModel();
  for (const personal of [false, true]) {
    const c = cfg(personal);
    const state = randomState(model, c, 7);
    const dir = mkdtempSync(join(tmpdir(), 'colora-adapter-'));
    saveAdapter(dir, c, state, 'builtin:tiny', gpt2Family.peft);
    const peft = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(peft.peft_type, 'LORA');
    assert.equal(peft.r, 3);
    assert.equal(peft.lora_alpha, 6);
    assert.deepEqual(peft.target_modules, c.targets);
    const tensors = readSafetensors(join(dir, 'adapter_model.safetensors'));
    const key = 'base_model.model.transformer.h.0.attn.c_attn';
    assert.deepEqual(tensors.get(`${key}.lora_A.weight`)!.shape, [3, 8]);
    assert.deepEqual(tensors.get(`${key}.lora_B.weight`)!.shape, [24, 3]);
    const f = state.get('h.0.attn.c_attn')!;
    const expectedB = personal ? mergePersonal(f.B, f.S!, 3) : f.B;
    assert.deepEqual(Array.from(tensors.get(`${key}.lora_B.weight`)!.data), Array.from(expectedB));
    const back = loadAdapter(dir);
    assert.equal(back.config.personal, personal);
    for (const [name, g] of state) {
      const r = back.state.get(name)!;
      assert.deepEqual(Array.from(r.A), Array.from(g.A));
      assert.deepEqual(Array.from(r.B), Array.from(g.B));
      if (personal) assert.deepEqual(Array.from(r.S!), Array.from(g.S!));
    }
    // generate --adapter path: the applied adapter computes the same logits as the in-memory one
    const live = new InjectedAdapter(model, c, state);
    const expected = model.forward(IDS).dataSync().slice();
    live.remove();
    const applied = applyAdapterDir(model, dir);
    const got = model.forward(IDS).dataSync();
    applied.remove();
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - expected[i]) < 1e-5);
  }
  model.dispose();
});

test('loading a bad adapter directory names the problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'colora-adapter-'));
  assert.throws(() => loadAdapter(dir), /no adapter_config\.json/);
});
