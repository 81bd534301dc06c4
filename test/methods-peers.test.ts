/**
 * The peers of CoLoRA on hand-made numbers: what each strategy sends, keeps and aggregates.
 * References are computed here densely (float64), independently of the strategies' code paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { createStrategy } from '../src/methods/registry.js';
import type { FitResult, Strategy, TrainedMethod } from '../src/methods/strategy.js';
import type { AdapterState, LayerFactors, Payload } from '../src/adapters/state.js';
import { Rng } from '../src/util/rng.js';

const clients = [
  { name: 'c1', numExamples: 10 },
  { name: 'c2', numExamples: 30 },
  { name: 'c3', numExamples: 20 },
];
const arr = (x: Float32Array | undefined) => Array.from(x ?? []);
const keys = (p: Payload) => [...new Set([...p.values()].flatMap((f) => Object.keys(f)))].sort().join(',');

/** A strategy on one layer 'L' (out × in, rank r, alpha = 2r so alpha/r = 2), started from `init` when given. */
function make(method: TrainedMethod, shape: { out: number; inF: number; r: number }, init?: (f: LayerFactors) => void): Strategy {
  const s = createStrategy(method, {
    adapter: { rank: shape.r, alpha: 2 * shape.r, targets: ['L'], dropout: 0 } as never,
    layers: [{ name: 'L', inFeatures: shape.inF, outFeatures: shape.out }],
    seed: 0,
    clients,
    localSteps: 1,
    clientFraction: 1,
  });
  if (init) {
    const snap = s.snapshot();
    init(snap.global.get('L')!);
    for (const u of snap.units.values()) init(u.get('L')!);
    s.restore(snap);
  }
  return s;
}

/** One round: each unit starts from what it was sent, its factors are replaced by `trained(unit, start)`, it uploads. */
function round(s: Strategy, r: number, trained: (unit: string, start: LayerFactors) => Partial<LayerFactors>): FitResult[] {
  const results = s.configureFit(r).map((ins) => {
    const start = s.clientStart(ins.unit, ins.download);
    const f = start.get('L')!;
    Object.assign(f, trained(ins.unit, f));
    return { unit: ins.unit, numExamples: s.units.find((u) => u.name === ins.unit)!.numExamples, upload: s.clientUpload(ins.unit, start) };
  });
  s.aggregateFit(r, results);
  return results;
}

function random(seed: number, n: number, scale = 1): Float32Array {
  return new Rng(seed).fillNormal(new Float32Array(n), scale);
}

/** Σ_k w_k · c · B_k A_k, dense float64. */
function meanProduct(terms: { B: Float32Array; A: Float32Array; w: number }[], out: number, inF: number, r: number, c: number): Matrix {
  const M = new Matrix(out, inF);
  for (const t of terms) for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) {
    let acc = 0;
    for (let j = 0; j < r; j++) acc += t.B[o * r + j] * t.A[j * inF + i];
    M.set(o, i, M.get(o, i) + c * t.w * acc);
  }
  return M;
}

function product(f: LayerFactors, out: number, inF: number, r: number, c: number): Matrix {
  return meanProduct([{ B: f.B, A: f.A, w: 1 }], out, inF, r, c);
}

function maxAbsDiff(a: Matrix, b: Matrix): number {
  let m = 0;
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.columns; j++) m = Math.max(m, Math.abs(a.get(i, j) - b.get(i, j)));
  return m;
}

const WEIGHTS: Record<string, number> = { c1: 10 / 60, c2: 30 / 60, c3: 20 / 60 };

test('fedsa: A is sent and averaged; B is never sent and stays with its client', () => {
  const s = make('fedsa', { out: 2, inF: 2, r: 1 }, (f) => {
    f.A = Float32Array.from([0, 0]);
    f.B = Float32Array.from([0, 0]);
  });
  const trained: Record<string, [number[], number[]]> = { c1: [[6, 0], [1, 2]], c2: [[0, 6], [3, 4]], c3: [[3, 3], [5, 6]] };
  assert.equal(keys(s.configureFit(0)[0].download), 'A');
  const results = round(s, 0, (u) => ({ A: Float32Array.from(trained[u][0]), B: Float32Array.from(trained[u][1]) }));
  assert.ok(results.every((r) => keys(r.upload) === 'A'));
  // A = (10·[6,0] + 30·[0,6] + 20·[3,3]) / 60 = [2, 4]
  for (const c of ['c1', 'c2', 'c3']) assert.deepEqual(arr(s.adapterFor(c).get('L')!.A), [2, 4]);
  assert.deepEqual(arr(s.adapterFor('c1').get('L')!.B), [1, 2]);
  assert.deepEqual(arr(s.adapterFor('c2').get('L')!.B), [3, 4]);
  // next round each client trains from the averaged A and its own B
  const [f1] = s.configureFit(1);
  assert.deepEqual(arr(s.clientStart('c1', f1.download).get('L')!.B), [1, 2]);
  assert.deepEqual(s.parameterCounts(), { trainable: 4, personal: 2 });
});

for (const [label, shape, n] of [
  ['in the stacked factors\' bases (K r < min(out, in))', { out: 7, inF: 6, r: 2 }, 2],
  ['densely (K r ≥ min(out, in))', { out: 5, inF: 4, r: 2 }, 3],
] as const)
  test(`flexlora: the aggregate is the rank-r truncated SVD of the weighted mean of the products, ${label}`, () => {
    const { out, inF, r } = shape;
    const s = createStrategy('flexlora', {
      adapter: { rank: r, alpha: 2 * r, targets: ['L'], dropout: 0 } as never,
      layers: [{ name: 'L', inFeatures: inF, outFeatures: out }],
      seed: 0,
      clients: clients.slice(0, n),
      localSteps: 1,
      clientFraction: 1,
    });
    const trained = new Map(clients.slice(0, n).map((c, i) => [c.name, { A: random(10 + i, r * inF), B: random(20 + i, out * r) }]));
    const results = round(s, 0, (u) => trained.get(u)!);
    assert.ok(results.every((x) => keys(x.upload) === 'A,B'));
    const total = clients.slice(0, n).reduce((a, c) => a + c.numExamples, 0);
    const mean = meanProduct(clients.slice(0, n).map((c) => ({ ...trained.get(c.name)!, w: c.numExamples / total })), out, inF, r, 2);
    const svd = new SingularValueDecomposition(mean, { autoTranspose: true });
    const U = svd.leftSingularVectors.subMatrix(0, out - 1, 0, r - 1);
    const V = svd.rightSingularVectors.subMatrix(0, inF - 1, 0, r - 1);
    const truncated = U.mmul(Matrix.diag(svd.diagonal.slice(0, r))).mmul(V.transpose());
    const g = s.adapterFor('c1').get('L')!;
    const got = product(g, out, inF, r, 2);
    const err = maxAbsDiff(got, truncated);
    assert.ok(err < 1e-5, `max |Δ| ${err}`);
    // and it is not the untruncated mean (the test would not see a missing truncation otherwise)
    assert.ok(maxAbsDiff(got, mean) > 1e-2);
    // A has orthonormal rows; Σ went to B
    const A = new Matrix(r, inF);
    for (let j = 0; j < r; j++) for (let i = 0; i < inF; i++) A.set(j, i, g.A[j * inF + i]);
    assert.ok(maxAbsDiff(A.mmul(A.transpose()), Matrix.eye(r)) < 1e-6);
    assert.deepEqual(arr(s.adapterFor('c2').get('L')!.B), arr(g.B));
  });

test('fedex: W + R + (alpha/r) B̄ Ā equals the weighted mean of the clients\' adapted weights (1e-6), over two rounds', () => {
  const shape = { out: 4, inF: 3, r: 2 };
  const { out, inF, r } = shape;
  const s = make('fedex', shape);
  assert.equal(keys(s.configureFit(0)[0].download), 'A,B'); // R is still zero: not sent
  let target = new Matrix(out, inF); // the mean adapted weight minus W
  for (let rd = 0; rd < 2; rd++) {
    const R0 = s.adapterFor('c1').get('L')!.R!;
    const trained = new Map(clients.map((c, i) => [c.name, { A: random(100 * rd + i, r * inF, 0.5), B: random(100 * rd + 10 + i, out * r, 0.5) }]));
    const results = round(s, rd, (u, start) => {
      assert.deepEqual(arr(start.R), arr(R0)); // every client trains on the same corrected weight
      return trained.get(u)!;
    });
    assert.ok(results.every((x) => keys(x.upload) === 'A,B')); // R is never uploaded
    const prev = new Matrix(out, inF);
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) prev.set(o, i, R0[o * inF + i]);
    target = prev.add(meanProduct(clients.map((c) => ({ ...trained.get(c.name)!, w: WEIGHTS[c.name] })), out, inF, r, 2));
    const g = s.adapterFor('c3').get('L')!;
    const R = new Matrix(out, inF);
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) R.set(o, i, g.R![o * inF + i]);
    const err = maxAbsDiff(R.add(product(g, out, inF, r, 2)), target);
    assert.ok(err < 1e-6, `round ${rd + 1}: max |Δ| ${err}`);
    // the averaged factors alone (FedAvg) miss it: the residual is not zero
    assert.ok(maxAbsDiff(product(g, out, inF, r, 2).add(prev), target) > 1e-3);
  }
  const ins = s.configureFit(2)[0];
  assert.equal(keys(ins.download), 'A,B,R');
  // a checkpoint carries R
  const snap = s.snapshot();
  assert.ok([...snap.units.values()].every((u) => u.get('L')!.R === undefined)); // one R, the server's
  const t = make('fedex', shape);
  t.restore(snap);
  assert.deepEqual(arr(t.adapterFor('c2').get('L')!.R), arr(s.adapterFor('c2').get('L')!.R));
  assert.deepEqual(s.parameterCounts(), { trainable: 14, personal: 0 });
});

test('feddpa: the personal LoRA (PA, PB) never leaves its client; the shared one is averaged', () => {
  const shape = { out: 2, inF: 2, r: 1 };
  const s = make('feddpa', shape);
  const init = s.adapterFor('c1').get('L')!;
  assert.ok(arr(init.PA).some((x) => x !== 0) && arr(init.PB).every((x) => x === 0));
  const seen: Payload[] = [];
  for (let rd = 0; rd < 2; rd++) {
    const fits = s.configureFit(rd);
    assert.deepEqual(fits[0].trainable, ['A', 'B', 'PA', 'PB']);
    seen.push(...fits.map((f) => f.download));
    const results = round(s, rd, (u) => {
      const i = Number(u.slice(1));
      return { A: Float32Array.from([i, 0]), B: Float32Array.from([0, i]), PA: Float32Array.from([rd, i]), PB: Float32Array.from([i, rd]) };
    });
    seen.push(...results.map((r) => r.upload));
  }
  assert.ok(seen.every((p) => keys(p) === 'A,B'), seen.map(keys).join(' | '));
  for (const c of ['c1', 'c2', 'c3']) {
    const f = s.adapterFor(c).get('L')!;
    const i = Number(c.slice(1));
    assert.deepEqual(arr(f.PA), [1, i]);
    assert.deepEqual(arr(f.PB), [i, 1]);
    // A = Σ w_i [i, 0] = [(10·1 + 30·2 + 20·3) / 60, 0]
    assert.ok(Math.abs(f.A[0] - 130 / 60) < 1e-6 && f.A[1] === 0);
  }
  assert.deepEqual(s.parameterCounts(), { trainable: 8, personal: 4 });
});
