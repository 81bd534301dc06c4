import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStrategy } from '../src/methods/registry.js';
import { weightedAverage, type FitResult } from '../src/methods/strategy.js';
import type { AdapterState } from '../src/adapters/state.js';
import { sampleUnits } from '../src/experiment/run-method.js';

/** One layer 'L' with rank 1, in 2, out 2: A [1,2], B [2,1], S [1,1]. */
function st(A: number[], B: number[], S?: number[]): AdapterState {
  return new Map([['L', { A: Float32Array.from(A), B: Float32Array.from(B), ...(S ? { S: Float32Array.from(S) } : {}) }]]);
}
const arr = (x: Float32Array | undefined) => Array.from(x ?? []);
const clients = [
  { name: 'c1', numExamples: 10 },
  { name: 'c2', numExamples: 30 },
];

test('weighted average: FedAvg weights by training-set size (hand-computed)', () => {
  const results: FitResult[] = [
    { unit: 'c1', numExamples: 10, state: st([1, 2], [4, 0]) },
    { unit: 'c2', numExamples: 30, state: st([5, 6], [0, 8]) },
  ];
  const avg = weightedAverage(results, ['A', 'B'], st([0, 0], [0, 0]));
  assert.deepEqual(arr(avg.get('L')!.A), [4, 5]); // 0.25*[1,2] + 0.75*[5,6]
  assert.deepEqual(arr(avg.get('L')!.B), [1, 6]);
});

test('fedavg: after a round every client starts from the same averaged A and B', () => {
  const s = createStrategy('fedavg', clients, st([0, 0], [0, 0]));
  const fits = s.configureFit(0, ['c1', 'c2']);
  assert.deepEqual(fits[0].trainable, ['A', 'B']);
  s.aggregateFit(0, [
    { unit: 'c1', numExamples: 10, state: st([1, 2], [4, 0]) },
    { unit: 'c2', numExamples: 30, state: st([5, 6], [0, 8]) },
  ]);
  for (const c of ['c1', 'c2']) {
    assert.deepEqual(arr(s.adapterFor(c).get('L')!.A), [4, 5]);
    assert.deepEqual(arr(s.adapterFor(c).get('L')!.B), [1, 6]);
  }
});

test('colora: A and B averaged and identical across clients; S_i stays personal', () => {
  const s = createStrategy('colora', clients, st([0, 0], [0, 0], [1]));
  assert.deepEqual(s.configureFit(0, ['c1'])[0].trainable, ['A', 'B', 'S']);
  s.aggregateFit(0, [
    { unit: 'c1', numExamples: 10, state: st([1, 2], [4, 0], [2]) },
    { unit: 'c2', numExamples: 30, state: st([5, 6], [0, 8], [3]) },
  ]);
  const a1 = s.adapterFor('c1').get('L')!;
  const a2 = s.adapterFor('c2').get('L')!;
  assert.deepEqual(arr(a1.A), [4, 5]);
  assert.deepEqual(arr(a1.A), arr(a2.A));
  assert.deepEqual(arr(a1.B), arr(a2.B));
  assert.deepEqual(arr(a1.S), [2]);
  assert.deepEqual(arr(a2.S), [3]);
  // next round: each client starts from the shared factors and its own S
  const [f1, f2] = s.configureFit(1, ['c1', 'c2']);
  assert.deepEqual(arr(f1.state.get('L')!.S), [2]);
  assert.deepEqual(arr(f2.state.get('L')!.S), [3]);
  assert.deepEqual(arr(f1.state.get('L')!.B), [1, 6]);
});

test('colora with client sampling: a client that sat out keeps its S and gets the new shared factors', () => {
  const s = createStrategy('colora', clients, st([0, 0], [0, 0], [1]));
  s.aggregateFit(0, [{ unit: 'c2', numExamples: 30, state: st([5, 6], [0, 8], [3]) }]);
  const a1 = s.adapterFor('c1').get('L')!;
  assert.deepEqual(arr(a1.S), [1]);
  assert.deepEqual(arr(a1.A), [5, 6]);
});

test('local: nothing is shared; each client keeps its own factors', () => {
  const s = createStrategy('local', clients, st([0, 0], [0, 0]));
  s.aggregateFit(0, [
    { unit: 'c1', numExamples: 10, state: st([1, 2], [4, 0]) },
    { unit: 'c2', numExamples: 30, state: st([5, 6], [0, 8]) },
  ]);
  assert.deepEqual(arr(s.adapterFor('c1').get('L')!.A), [1, 2]);
  assert.deepEqual(arr(s.adapterFor('c2').get('L')!.B), [0, 8]);
});

test('ffa: only B trains; A stays at its initial value', () => {
  const s = createStrategy('ffa', clients, st([7, 7], [0, 0]));
  const fits = s.configureFit(0, ['c1', 'c2']);
  assert.deepEqual(fits[0].trainable, ['B']);
  s.aggregateFit(0, [
    { unit: 'c1', numExamples: 10, state: st([7, 7], [4, 0]) },
    { unit: 'c2', numExamples: 30, state: st([7, 7], [0, 8]) },
  ]);
  assert.deepEqual(arr(s.adapterFor('c1').get('L')!.A), [7, 7]);
  assert.deepEqual(arr(s.adapterFor('c1').get('L')!.B), [1, 6]);
});

test('centralized: one pooled unit whose adapter every client is evaluated with', () => {
  const s = createStrategy('centralized', clients, st([0, 0], [0, 0]));
  assert.deepEqual(s.units.map((u) => [u.name, u.members, u.numExamples]), [['pooled', ['c1', 'c2'], 40]]);
  s.aggregateFit(0, [{ unit: 'pooled', numExamples: 40, state: st([1, 1], [2, 2]) }]);
  assert.deepEqual(arr(s.adapterFor('c2').get('L')!.B), [2, 2]);
});

test('client sampling: seeded, the requested fraction, same draw for every method', () => {
  const units = ['a', 'b', 'c', 'd', 'e', 'f'];
  assert.deepEqual(sampleUnits(units, 1, 0, 3), units);
  const r = sampleUnits(units, 0.5, 0, 3);
  assert.equal(r.length, 3);
  assert.deepEqual(sampleUnits(units, 0.5, 0, 3), r);
  assert.ok([0, 1, 2, 4, 5, 6, 7].some((round) => sampleUnits(units, 0.5, 0, round).join() !== r.join()));
});

test('optimizers leave no tensors behind after finish()', async () => {
  const tf = await import('@tensorflow/tfjs');
  const { createOptimizer } = await import('../src/train/optimizer.js');
  const p = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
  for (const kind of ['adamw', 'schedule_free_adamw'] as const) {
    const before = tf.memory().numTensors;
    const opt = createOptimizer([p], { kind, betas: [0.9, 0.999], weightDecay: 0.01, gradClip: 1 });
    const g = tf.ones([2, 2]);
    opt.step([g], 0.1);
    g.dispose();
    opt.finish();
    assert.equal(tf.memory().numTensors, before, kind);
  }
  p.dispose();
});
