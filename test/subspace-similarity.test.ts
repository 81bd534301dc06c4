import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdapterState, LayerFactors } from '../src/adapters/state.js';
import { basisSimilarity, subspaceSimilarityRows, updateColumnBasis } from '../src/report/subspace-similarity.js';
import { Rng } from '../src/util/rng.js';

const OUT = 6;
const IN = 5;
const R = 2;
const ctx = { grouping: 'g', seed: 3, method: 'local' as const };

/** B (OUT × R) from its columns. */
function bFromColumns(cols: number[][]): Float32Array {
  const B = new Float32Array(OUT * R);
  cols.forEach((c, j) => c.forEach((v, o) => (B[o * R + j] = v)));
  return B;
}
const e = (i: number, scale = 1) => Array.from({ length: OUT }, (_, o) => (o === i ? scale : 0));
const A = Rng.derive(1, 'A').fillUniform(new Float32Array(R * IN), -1, 1);
const layer = (B: Float32Array, S?: number[]): LayerFactors => ({ A, B, ...(S ? { S: Float32Array.from(S) } : {}) });
const state = (f: LayerFactors): AdapterState => new Map([['h.0.attn.c_attn', f]]);

test('the basis spans ΔW = B S A: orthonormal, one column per non-zero singular value', () => {
  const U = updateColumnBasis(layer(bFromColumns([e(0, 3), e(1)]), [1, 0.5, 0, 2]), R, 8);
  assert.equal(U.columns, 2);
  const G = U.transpose().mmul(U);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) assert.ok(Math.abs(G.get(i, j) - (i === j ? 1 : 0)) < 1e-9);
  for (let o = 2; o < OUT; o++) assert.ok(Math.abs(U.get(o, 0)) + Math.abs(U.get(o, 1)) < 1e-9, 'inside span(e0, e1)');
  assert.equal(updateColumnBasis(layer(new Float32Array(OUT * R)), R, 1).columns, 0, 'a zero update has no column space');
  assert.equal(updateColumnBasis(layer(bFromColumns([e(2), e(2, 2)])), R, 1).columns, 1, 'rank-one B');
});

test('identical column spaces give 1, even through different personal S (CoLoRA)', () => {
  const B = bFromColumns([e(0), e(1, 2)]);
  const rows = subspaceSimilarityRows(ctx, new Map([['a', state(layer(B, [1, 0, 0, 1]))], ['b', state(layer(B, [0.3, -2, 1.5, 0.7]))]]), R, 8);
  assert.equal(rows.length, 1);
  assert.deepEqual({ ...rows[0], value: 0 }, { grouping: 'g', seed: 3, method: 'local', layer: 'h.0.attn.c_attn', client_a: 'a', client_b: 'b', k: R, value: 0 });
  assert.ok(Math.abs(rows[0].value - 1) < 1e-9, String(rows[0].value));
});

test('orthogonal column spaces give 0', () => {
  const rows = subspaceSimilarityRows(ctx, new Map([['a', state(layer(bFromColumns([e(0), e(1)])))], ['b', state(layer(bFromColumns([e(2), e(3)])))]]), R, 8);
  assert.ok(Math.abs(rows[0].value) < 1e-12);
});

test('a known partial overlap: span(e0, e1) vs span(cosθ e0 + sinθ e2, e3) gives cos²θ / 2', () => {
  const t = 0.6;
  const tilted = Array.from({ length: OUT }, (_, o) => (o === 0 ? Math.cos(t) : o === 2 ? Math.sin(t) : 0));
  const rows = subspaceSimilarityRows(ctx, new Map([['a', state(layer(bFromColumns([e(0), e(1)])))], ['b', state(layer(bFromColumns([tilted, e(3)])))]]), R, 2);
  assert.ok(Math.abs(rows[0].value - Math.cos(t) ** 2 / 2) < 1e-6, String(rows[0].value));
});

test('top-1 directions follow the singular values; every pair, in order, per layer', () => {
  // a: strongest direction e0; b: strongest e1, weaker e0 → top-1 similarity 0, top-2 similarity 1/2.
  const a = layer(bFromColumns([e(0, 10), e(2, 0.1)]));
  const b = layer(bFromColumns([e(0, 0.1), e(1, 10)]));
  const Ua = updateColumnBasis({ ...a, A: Float32Array.from([1, 0, 0, 0, 0, 0, 1, 0, 0, 0]) }, R, 1);
  const Ub = updateColumnBasis({ ...b, A: Float32Array.from([1, 0, 0, 0, 0, 0, 1, 0, 0, 0]) }, R, 1);
  assert.ok(Math.abs(basisSimilarity(Ua, Ub, 1)) < 1e-9);
  assert.ok(Math.abs(basisSimilarity(Ua, Ub, 2) - 0.5) < 1e-9);
  const two = (f: LayerFactors): AdapterState => new Map([['h.0.attn.c_attn', f], ['h.1.attn.c_attn', f]]);
  const rows = subspaceSimilarityRows(ctx, new Map([['x', two(a)], ['y', two(b)], ['z', two(a)]]), R, 1, [1, 2]);
  assert.deepEqual(
    rows.map((r) => `${r.layer} ${r.client_a}-${r.client_b} k${r.k}`),
    ['h.0', 'h.1'].flatMap((l) => ['x-y', 'x-z', 'y-z'].flatMap((p) => [1, 2].map((k) => `${l}.attn.c_attn ${p} k${k}`))),
  );
  assert.equal(subspaceSimilarityRows(ctx, new Map([['x', two(a)]]), R, 1).length, 0, 'one client, no pairs');
});

test('a FedDPA layer counts both its LoRAs: the personal one adds its own directions', () => {
  const PA = Rng.derive(2, 'PA').fillUniform(new Float32Array(R * IN), -1, 1);
  const shared = layer(bFromColumns([e(0), e(1)]));
  const U = updateColumnBasis({ ...shared, PA, PB: bFromColumns([e(4), e(5)]) }, R, 1);
  assert.equal(U.columns, 4);
  for (const o of [2, 3]) for (let j = 0; j < 4; j++) assert.ok(Math.abs(U.get(o, j)) < 1e-9, 'inside span(e0, e1, e4, e5)');
  assert.equal(updateColumnBasis(shared, R, 1).columns, 2);
});
