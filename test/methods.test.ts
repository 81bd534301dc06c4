import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStrategy } from '../src/methods/registry.js';
import { weightedAverage } from '../src/methods/aggregate.js';
import type { FitResult, Strategy, TrainedMethod } from '../src/methods/strategy.js';
import type { AdapterState } from '../src/adapters/state.js';
import { sampleUnits } from '../src/methods/sampling.js';

/** One layer 'L' with rank 1, in 2, out 2: A [1,2], B [2,1], S [1,1]. */
function st(A: number[], B: number[], S?: number[]): AdapterState {
  return new Map([['L', { A: Float32Array.from(A), B: Float32Array.from(B), ...(S ? { S: Float32Array.from(S) } : {}) }]]);
}
const arr = (x: Float32Array | undefined) => Array.from(x ?? []);
const clients = [
  { name: 'c1', numExamples: 10 },
  { name: 'c2', numExamples: 30 },
];

/** A strategy on one layer 'L' (rank 1, 2 → 2), every client starting from `init`. */
function make(method: TrainedMethod, init: AdapterState): Strategy {
  const s = createStrategy(method, {
    adapter: { rank: 1, alpha: 1, targets: ['L'], dropout: 0 } as never,
    layers: [{ name: 'L', inFeatures: 2, outFeatures: 2 }],
    seed: 0,
    clients,
    localSteps: 1,
    clientFraction: 1,
  });
  s.restore({ global: init, units: new Map(s.units.map((u) => [u.name, init])) });
  return s;
}

/** One round as the driver runs it: each unit starts from what it was sent, trains to `trained[unit]`, uploads. */
function round(s: Strategy, r: number, trained: Record<string, AdapterState>): FitResult[] {
  const results = s.configureFit(r).filter((ins) => trained[ins.unit]).map((ins) => {
    s.clientStart(ins.unit, ins.download);
    return { unit: ins.unit, numExamples: s.units.find((u) => u.name === ins.unit)!.numExamples, upload: s.clientUpload(ins.unit, trained[ins.unit]) };
  });
  s.aggregateFit(r, results);
  return results;
}

test('weighted average: FedAvg weights by training-set size (hand-computed)', () => {
  const results: FitResult[] = [
    { unit: 'c1', numExamples: 10, upload: st([1, 2], [4, 0]) },
    { unit: 'c2', numExamples: 30, upload: st([5, 6], [0, 8]) },
  ];
  const avg = weightedAverage(results, ['A', 'B'], st([0, 0], [0, 0]));
  assert.deepEqual(arr(avg.get('L')!.A), [4, 5]); // 0.25*[1,2] + 0.75*[5,6]
  assert.deepEqual(arr(avg.get('L')!.B), [1, 6]);
});

const sent = (p: Map<string, object>) => [...p.values()].map((f) => Object.keys(f).sort().join(',')).join(';');

test('fedavg: after a round every client starts from the same averaged A and B', () => {
  const s = make('fedavg', st([0, 0], [0, 0]));
  const fits = s.configureFit(0);
  assert.deepEqual(fits.map((f) => f.unit), ['c1', 'c2']);
  assert.deepEqual(fits[0].trainable, ['A', 'B']);
  const results = round(s, 0, { c1: st([1, 2], [4, 0]), c2: st([5, 6], [0, 8]) });
  assert.equal(sent(results[0].upload), 'A,B');
  for (const c of ['c1', 'c2']) {
    assert.deepEqual(arr(s.adapterFor(c).get('L')!.A), [4, 5]);
    assert.deepEqual(arr(s.adapterFor(c).get('L')!.B), [1, 6]);
  }
  assert.deepEqual(s.parameterCounts(), { trainable: 4, personal: 0 });
});

test('colora: A and B averaged and identical across clients; S_i stays personal and is never sent', () => {
  const s = make('colora', st([0, 0], [0, 0], [1]));
  assert.deepEqual(s.configureFit(0)[0].trainable, ['A', 'B', 'S']);
  assert.equal(sent(s.configureFit(0)[0].download), 'A,B');
  const results = round(s, 0, { c1: st([1, 2], [4, 0], [2]), c2: st([5, 6], [0, 8], [3]) });
  assert.equal(sent(results[0].upload), 'A,B');
  const a1 = s.adapterFor('c1').get('L')!;
  const a2 = s.adapterFor('c2').get('L')!;
  assert.deepEqual(arr(a1.A), [4, 5]);
  assert.deepEqual(arr(a1.A), arr(a2.A));
  assert.deepEqual(arr(a1.B), arr(a2.B));
  assert.deepEqual(arr(a1.S), [2]);
  assert.deepEqual(arr(a2.S), [3]);
  // next round: each client starts from the shared factors and its own S
  const [f1, f2] = s.configureFit(1);
  assert.deepEqual(arr(s.clientStart('c1', f1.download).get('L')!.S), [2]);
  assert.deepEqual(arr(s.clientStart('c2', f2.download).get('L')!.S), [3]);
  assert.deepEqual(arr(s.clientStart('c1', f1.download).get('L')!.B), [1, 6]);
  assert.deepEqual(s.parameterCounts(), { trainable: 5, personal: 1 });
});

test('colora with client sampling: a client that sat out keeps its S and gets the new shared factors', () => {
  const s = make('colora', st([0, 0], [0, 0], [1]));
  round(s, 0, { c2: st([5, 6], [0, 8], [3]) });
  const a1 = s.adapterFor('c1').get('L')!;
  assert.deepEqual(arr(a1.S), [1]);
  assert.deepEqual(arr(a1.A), [5, 6]);
});

test('local: nothing is sent; each client keeps its own factors', () => {
  const s = make('local', st([0, 0], [0, 0]));
  const results = round(s, 0, { c1: st([1, 2], [4, 0]), c2: st([5, 6], [0, 8]) });
  assert.equal(sent(results[0].upload), '');
  assert.equal(sent(s.configureFit(1)[0].download), '');
  assert.deepEqual(arr(s.adapterFor('c1').get('L')!.A), [1, 2]);
  assert.deepEqual(arr(s.adapterFor('c2').get('L')!.B), [0, 8]);
  assert.deepEqual(s.parameterCounts(), { trainable: 4, personal: 4 });
});

test('ffa: only B trains and is sent; A stays at its initial value', () => {
  const s = make('ffa', st([7, 7], [0, 0]));
  const fits = s.configureFit(0);
  assert.deepEqual(fits[0].trainable, ['B']);
  assert.equal(sent(fits[0].download), 'B');
  const results = round(s, 0, { c1: st([7, 7], [4, 0]), c2: st([7, 7], [0, 8]) });
  assert.equal(sent(results[0].upload), 'B');
  assert.deepEqual(arr(s.adapterFor('c1').get('L')!.A), [7, 7]);
  assert.deepEqual(arr(s.adapterFor('c1').get('L')!.B), [1, 6]);
});

test('centralized: one pooled unit whose adapter every client is evaluated with', () => {
  const s = make('centralized', st([0, 0], [0, 0]));
  assert.deepEqual(s.units.map((u) => [u.name, u.members, u.numExamples]), [['pooled', ['c1', 'c2'], 40]]);
  assert.equal(s.configureFit(0)[0].steps, 2); // local_steps per member
  round(s, 0, { pooled: st([1, 1], [2, 2]) });
  assert.deepEqual(arr(s.adapterFor('c2').get('L')!.B), [2, 2]);
  assert.deepEqual(s.parameterCounts(), { trainable: 4, personal: 0 });
});

test('a strategy starts from PEFT\'s LoRA initialisation, derived from the seed alone', () => {
  const ctx = {
    adapter: { rank: 2, alpha: 4, targets: ['L'], dropout: 0 } as never,
    layers: [{ name: 'L', inFeatures: 3, outFeatures: 4 }],
    seed: 5,
    clients,
    localSteps: 1,
    clientFraction: 1,
  };
  const a = createStrategy('colora', ctx).adapterFor('c1').get('L')!;
  const b = createStrategy('fedavg', ctx).adapterFor('c2').get('L')!;
  assert.deepEqual(arr(a.A), arr(b.A));
  assert.ok(arr(a.A).every((x) => Math.abs(x) <= 1 / Math.sqrt(3)) && arr(a.A).some((x) => x !== 0));
  assert.deepEqual(arr(a.B), new Array(8).fill(0));
  assert.deepEqual(arr(a.S), [1, 0, 0, 1]);
  assert.equal(b.S, undefined);
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
