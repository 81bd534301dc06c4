import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

test('a frozen correction R on a layer acts as W + R: same logits as a model whose weight holds it, never trained', async () => {
  const c = cfg(false);
  const arrays = initGPT2Arrays(TINY, 0);
  const model = GPT2.fromArrays(TINY, arrays);
  const state = randomState(model, c, 4);
  const rng = new Rng(9);
  const moved = new Map([...arrays].map(([k, v]) => [k, { shape: v.shape, data: v.data.slice() }]));
  for (const [name, f] of state) {
    const info = targetedLinears(model, c.targets).find((l) => l.name === name)!;
    f.R = rng.fillNormal(new Float32Array(info.outFeatures * info.inFeatures), 0.2); // [out, in]
    const w = moved.get(`${name}.weight`)!.data; // Conv1D [in, out]
    for (let o = 0; o < info.outFeatures; o++) for (let i = 0; i < info.inFeatures; i++) w[i * info.outFeatures + o] += f.R[o * info.inFeatures + i];
  }
  const a = new InjectedAdapter(model, { ...c, residual: true }, state);
  const withR = model.forward(IDS).dataSync().slice();
  assert.equal(a.variables(['A', 'B', 'S']).length, 2 * state.size); // A and B per layer; R is not a variable
  const back = await a.read();
  for (const [name, f] of state) assert.deepEqual(Array.from(back.get(name)!.R!), Array.from(f.R!));
  a.remove();
  const reference = GPT2.fromArrays(TINY, moved);
  const plain = new Map([...state].map(([k, f]) => [k, { A: f.A, B: f.B }]));
  const b = new InjectedAdapter(reference, c, plain);
  const expected = reference.forward(IDS).dataSync();
  b.remove();
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - withR[i]));
  assert.ok(worst < 1e-5, `max |Δlogit| ${worst}`);
  model.dispose();
  reference.dispose();
});

/** `randomState` plus FedDPA's personal LoRA (PA, PB) and/or a frozen correction R on every layer. */
function peerState(model: GPT2, c: AdapterConfig, seed: number): AdapterState {
  const rng = new Rng(seed + 100);
  const state = randomState(model, c, seed);
  for (const l of targetedLinears(model, c.targets)) {
    const f = state.get(l.name)!;
    if (c.dual) {
      f.PA = rng.fillNormal(new Float32Array(c.rank * l.inFeatures), 0.3);
      f.PB = rng.fillNormal(new Float32Array(l.outFeatures * c.rank), 0.3);
    }
    if (c.residual) f.R = rng.fillNormal(new Float32Array(l.outFeatures * l.inFeatures), 0.1);
  }
  return state;
}

test('FedDPA and FedEx adapters reload from their export with the same logits (rank-2r LoRA; LoRA plus residual file)', () => {
  const model = tinyModel(3);
  for (const extra of [{ dual: true }, { residual: true }]) {
    const c = { ...cfg(false), ...extra };
    const state = peerState(model, c, 11);
    const a = new InjectedAdapter(model, c, state);
    const expected = model.forward(IDS).dataSync().slice();
    a.remove();
    const base = model.forward(IDS).dataSync().slice();
    const dir = mkdtempSync(join(tmpdir(), 'colora-adapter-'));
    try {
      saveAdapter(dir, c, state, 'builtin:tiny', gpt2Family.peft);
      const peft = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
      assert.equal(peft.r, c.dual ? 6 : 3);
      assert.equal(peft.lora_alpha / peft.r, 2); // alpha/r unchanged
      const back = loadAdapter(dir);
      assert.equal(back.config.residual ?? false, c.residual ?? false);
      const b = applyAdapterDir(model, dir);
      const got = model.forward(IDS).dataSync().slice();
      b.remove();
      let worst = 0;
      let moved = 0;
      for (let i = 0; i < got.length; i++) {
        worst = Math.max(worst, Math.abs(got[i] - expected[i]));
        moved = Math.max(moved, Math.abs(base[i] - expected[i]));
      }
      assert.ok(worst < 1e-5, `${JSON.stringify(extra)}: max |Δlogit| ${worst}`);
      assert.ok(moved > 1e-3, `${JSON.stringify(extra)}: the adapter changes the logits`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  model.dispose();
});

test('FedDPA: the personal LoRA gets the gradient of the equivalent rank-2r LoRA\'s second half', () => {
  const model = tinyModel(4);
  const c = { ...cfg(false, ['attn.c_attn']), dual: true };
  const state = peerState(model, c, 13);
  const batch = makeBatch([{ promptIds: [1, 5, 7], targetIds: [2, 9, 0] }, { promptIds: [4, 4], targetIds: [8, 1, 6, 0] }], 0);
  const a = new InjectedAdapter(model, c, state);
  const dual = a.variables(['PA', 'PB']);
  const gd = tf.variableGrads(() => batchLoss(model, batch), dual).grads;
  const got = dual.map((v) => gd[v.name].dataSync().slice());
  a.remove();
  // the same adapter as one plain LoRA of rank 2r: [A; PA], [B, PB]
  const r = c.rank;
  const stacked: AdapterState = new Map();
  for (const l of targetedLinears(model, c.targets)) {
    const f = state.get(l.name)!;
    const B = new Float32Array(l.outFeatures * 2 * r);
    for (let o = 0; o < l.outFeatures; o++) {
      B.set(f.B.subarray(o * r, (o + 1) * r), o * 2 * r);
      B.set(f.PB!.subarray(o * r, (o + 1) * r), o * 2 * r + r);
    }
    stacked.set(l.name, { A: Float32Array.from([...f.A, ...f.PA!]), B });
  }
  const p = new InjectedAdapter(model, { ...cfg(false, c.targets), rank: 2 * r, alpha: 4 * r }, stacked);
  const plain = p.variables(['A', 'B']);
  const gp = tf.variableGrads(() => batchLoss(model, batch), plain).grads;
  let checked = 0;
  for (let l = 0; l < plain.length / 2; l++) {
    const inF = plain[2 * l].shape[1] as number;
    const gA = gp[plain[2 * l].name].dataSync();
    const gB = gp[plain[2 * l + 1].name].dataSync();
    const out = plain[2 * l + 1].shape[0] as number;
    const [gPA, gPB] = [got[2 * l], got[2 * l + 1]];
    for (let i = 0; i < r * inF; i++) assert.ok(Math.abs(gPA[i] - gA[r * inF + i]) < 1e-5, `PA[${i}]`);
    for (let o = 0; o < out; o++) for (let j = 0; j < r; j++) assert.ok(Math.abs(gPB[o * r + j] - gB[o * 2 * r + r + j]) < 1e-5, `PB[${o},${j}]`);
    assert.ok(gPA.some((x) => x !== 0) && gPB.some((x) => x !== 0));
    checked++;
  }
  assert.equal(checked, 2);
  p.remove();
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
