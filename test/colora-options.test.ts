import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { GPT2Config } from '../src/model/config.js';
import { GPT2 } from '../src/model/gpt2.js';
import { initGPT2Arrays } from '../src/model/init.js';
import { InjectedAdapter, targetedLinears } from '../src/adapters/inject.js';
import { initialAdapterState, readFrozenWeights, type CoreInit, type SharedInit } from '../src/adapters/init.js';
import { coreMatrix, type AdapterState, type FactorName } from '../src/adapters/state.js';
import type { AdapterConfig } from '../src/adapters/config.js';
import { CoLoRASchema } from '../src/config/schema.js';
import { YamlSource } from '../src/config/yaml-source.js';
import { parseExperimentConfig } from '../src/config/load.js';
import { createStrategy } from '../src/methods/registry.js';
import type { Strategy, StrategyContext } from '../src/methods/strategy.js';
import { coreDiagnostics, conditionNumber, productNorm } from '../src/methods/colora-core.js';
import { batchLoss } from '../src/train/loss.js';
import { makeBatch } from '../src/train/batch.js';
import { createOptimizer } from '../src/train/optimizer.js';
import { trainLocally } from '../src/train/local-training.js';
import { UsageError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';

const TINY: GPT2Config = {
  vocabSize: 24, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32,
  activation: 'gelu_new', layerNormEpsilon: 1e-5, tieWordEmbeddings: true,
};
const IDS = tf.tensor2d([[1, 5, 7, 2, 9, 3], [4, 4, 8, 1, 0, 6]], undefined, 'int32');
const EXAMPLES = [
  { promptIds: [1, 5, 7], targetIds: [2, 9, 0] },
  { promptIds: [4, 4], targetIds: [8, 1, 6, 0] },
  { promptIds: [3, 2, 2, 6], targetIds: [7, 0] },
];
const BATCH = makeBatch(EXAMPLES.slice(0, 2), 0);
const R = 3;
const ADAPTER = { rank: R, alpha: 6, targets: ['attn.c_attn'] as ['attn.c_attn'], dropout: 0, kind: 'lora' as const };

function colora(core: 'full' | 'diagonal' = 'full'): AdapterConfig {
  return { rank: R, alpha: 6, targets: ['attn.c_attn'], dropout: 0, personal: true, ...(core === 'diagonal' ? { core } : {}) };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function sqNorm(t: tf.Tensor): number {
  return tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]);
}

/** ‖∂L/∂S‖² at the current values, and all factors' gradients. */
function grads(model: GPT2, a: InjectedAdapter): { S: number; all: number; g: tf.NamedTensorMap; vars: tf.Variable[] } {
  const vars = a.variables(['A', 'B', 'S']);
  const { grads: g } = tf.variableGrads(() => batchLoss(model, BATCH), vars);
  const S = a.variables(['S']).reduce((s, v) => s + sqNorm(g[v.name]), 0);
  const all = vars.reduce((s, v) => s + sqNorm(g[v.name]), 0);
  return { S, all, g, vars };
}

test("the core's gradient is non-zero within the first two steps under every valid core_init / shared_init pair", async () => {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 1));
  const weights = await readFrozenWeights(model, ['attn.c_attn'], 'test');
  const pairs: [CoreInit, SharedInit][] = [['identity', 'peft'], ['gaussian', 'peft'], ['identity', 'svd'], ['gaussian', 'svd'], ['zero', 'svd']];
  for (const core of ['full', 'diagonal'] as const)
    for (const [coreInit, sharedInit] of pairs) {
      const c = colora(core);
      const state = initialAdapterState(targetedLinears(model, c.targets), c, 0, { coreInit, coreSigma: 1e-5, sharedInit }, weights);
      const a = new InjectedAdapter(model, c, state);
      const first = grads(model, a);
      let stepOfFirstCoreGradient = first.S > 0 ? 1 : 0;
      if (!stepOfFirstCoreGradient) {
        // One AdamW step on A, B, S (as training does), then look again.
        const opt = createOptimizer(first.vars, { kind: 'adamw', betas: [0.9, 0.999], weightDecay: 0, gradClip: 1 });
        opt.step(first.vars.map((v) => first.g[v.name]), 1e-2);
        opt.finish();
        if (grads(model, a).S > 0) stepOfFirstCoreGradient = 2;
      }
      const what = `${core}/${coreInit}/${sharedInit}`;
      assert.ok(stepOfFirstCoreGradient > 0, `${what}: S has no gradient in two steps`);
      // The original reading (B = 0, S = I) moves S only from step 2; every SVD start from step 1.
      if (sharedInit === 'svd') assert.equal(stepOfFirstCoreGradient, 1, what);
      if (coreInit === 'identity' && sharedInit === 'peft') assert.equal(stepOfFirstCoreGradient, 2, what);
      a.remove();
    }
  // The refused pair: zero core with B = 0 gives no factor any gradient.
  const c = colora();
  const dead = new InjectedAdapter(model, c, initialAdapterState(targetedLinears(model, c.targets), c, 0, { coreInit: 'zero', coreSigma: 1e-5, sharedInit: 'peft' }));
  assert.equal(grads(model, dead).all, 0);
  dead.remove();
  model.dispose();
});

const CONFIG = `clients:
  - { name: c1, tasks: [task205_remove_even_elements] }
methods: [local, colora, ffa]
train: { local_steps: 4 }
`;

function refused(extra: string, path: RegExp, why: RegExp): void {
  assert.throws(
    () => parseExperimentConfig(YamlSource.parse('exp.yaml', CONFIG + extra)),
    (e: unknown) => e instanceof UsageError && e.exitCode === 2 && path.test(e.message) && why.test(e.message) && !e.message.includes('\n'),
  );
}

test('config: pairs that cannot work are refused with exit 2, naming the key', () => {
  refused('colora: { core_init: zero }\n', /colora\.core_init/, /can never learn/);
  refused('colora: { core: diagonal, normalize: qr }\n', /colora\.normalize/, /full core/);
  refused('colora: { schedule: alternating, core_steps: 4 }\n', /colora\.core_steps/, /leaves none/);
  refused('adapter: { kind: svfit }\n', /adapter\.kind/, /ffa/);
  // The same zero core is valid with a non-zero B (PiSSA's start) and the defaults are the original reading.
  const ok = parseExperimentConfig(YamlSource.parse('exp.yaml', CONFIG + 'colora: { core_init: zero, shared_init: svd }\n'));
  assert.equal(ok.colora.core_init, 'zero');
  assert.deepEqual(parseExperimentConfig(YamlSource.parse('exp.yaml', CONFIG)).colora, {
    core: 'full', core_init: 'identity', core_sigma: 1e-5, shared_init: 'peft', core_lr_multiplier: 1, schedule: 'joint', core_steps: 1, normalize: 'none',
  });
});

function strategy(model: GPT2, colora: Record<string, unknown>, localSteps = 5): Strategy {
  const ctx: StrategyContext = {
    adapter: ADAPTER,
    layers: targetedLinears(model, ['attn.c_attn']),
    seed: 0,
    clients: [
      { name: 'c1', numExamples: 10 },
      { name: 'c2', numExamples: 30 },
      { name: 'c3', numExamples: 20 },
    ],
    localSteps,
    clientFraction: 1,
    colora: CoLoRASchema.parse(colora),
  };
  return createStrategy('colora', ctx);
}

/** Random trained factors per client. */
function trainedState(s: Strategy, unit: string, seed: number): AdapterState {
  const ins = s.configureFit(0).find((i) => i.unit === unit)!;
  const state = s.clientStart(unit, ins.download);
  const rng = new Rng(seed);
  for (const f of state.values()) for (const k of ['A', 'B', 'S'] as const) rng.fillNormal(f[k]!, 0.5);
  return state;
}

test('normalize: qr leaves every client\'s logits unchanged (1e-5) and makes the shared B, A orthonormal', () => {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 2));
  const logits = (s: Strategy, client: string) => {
    const a = new InjectedAdapter(model, colora(), s.adapterFor(client));
    const y = model.forward(IDS).dataSync().slice();
    a.remove();
    return y;
  };
  const plain = strategy(model, {});
  const fixed = strategy(model, { normalize: 'qr' });
  for (const s of [plain, fixed]) {
    const results = s.configureFit(0).map((ins, i) => ({
      unit: ins.unit,
      numExamples: s.units.find((u) => u.name === ins.unit)!.numExamples,
      upload: s.clientUpload(ins.unit, trainedState(s, ins.unit, 10 + i)),
    }));
    s.aggregateFit(0, results);
  }
  for (const c of ['c1', 'c2', 'c3']) {
    const d = maxDiff(logits(fixed, c), logits(plain, c));
    assert.ok(d < 1e-5, `${c}: logits moved by ${d}`);
    assert.ok(maxDiff(fixed.adapterFor(c).get('h.0.attn.c_attn')!.S!, plain.adapterFor(c).get('h.0.attn.c_attn')!.S!) > 1e-2, 'the cores absorbed R_B, R_A');
  }
  for (const f of fixed.adapterFor('c1').values()) {
    const nOut = f.B.length / R;
    for (let a = 0; a < R; a++)
      for (let b = 0; b < R; b++) {
        let bb = 0;
        for (let o = 0; o < nOut; o++) bb += f.B[o * R + a] * f.B[o * R + b];
        const nIn = f.A.length / R;
        let aa = 0;
        for (let i = 0; i < nIn; i++) aa += f.A[a * nIn + i] * f.A[b * nIn + i];
        assert.ok(Math.abs(bb - (a === b ? 1 : 0)) < 1e-5 && Math.abs(aa - (a === b ? 1 : 0)) < 1e-5, `BᵀB, A Aᵀ at (${a}, ${b}): ${bb}, ${aa}`);
      }
  }
  model.dispose();
});

test('alternating schedule: the first core_steps touch only S, the rest only A and B; core_lr_multiplier scales S\'s step', async () => {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 3));
  const s = strategy(model, { schedule: 'alternating', core_steps: 2, core_lr_multiplier: 4 });
  const ins = s.configureFit(0)[0];
  assert.deepEqual(ins.phases, [{ trainable: ['S'], steps: 2 }, { trainable: ['A', 'B'], steps: 3 }]);
  assert.deepEqual(ins.lrMultipliers, { S: 4 });
  const state = trainedState(s, ins.unit, 3);
  const a = new InjectedAdapter(model, colora(), state);
  const snap = () => Object.fromEntries((['A', 'B', 'S'] as FactorName[]).map((f) => [f, a.variables([f]).map((v) => v.dataSync().slice())]));
  const changed: string[][] = [];
  let before = snap();
  const scales = (fs: readonly FactorName[]) => a.variableFactors(fs).map((f) => ins.lrMultipliers?.[f] ?? 1);
  await trainLocally(model, a.variables(ins.trainable), EXAMPLES, new Rng(1), {
    steps: ins.steps, batchSize: 2, lr: 1e-2, warmupSteps: 0, firstStep: 0, padId: 0, where: 'test',
    optimizer: { kind: 'adamw', betas: [0.9, 0.999], weightDecay: 0, gradClip: 0 },
    phases: ins.phases!.map((p) => ({ vars: a.variables(p.trainable), steps: p.steps, lrScales: scales(p.trainable) })),
    onStep: () => {
      const now = snap();
      changed.push(['A', 'B', 'S'].filter((f) => now[f].some((v, i) => maxDiff(v, before[f][i]) > 0)));
      before = now;
    },
  });
  assert.deepEqual(changed, [['S'], ['S'], ['A', 'B'], ['A', 'B'], ['A', 'B']]);
  a.remove();

  // Adam's first step moves each entry by about lr: ×4 on S with the multiplier.
  const firstStepSize = async (mult: number) => {
    const b = new InjectedAdapter(model, colora(), trainedState(s, ins.unit, 3));
    const S0 = b.variables(['S'])[0].dataSync().slice();
    await trainLocally(model, b.variables(['S']), EXAMPLES, new Rng(1), {
      steps: 1, batchSize: 2, lr: 1e-3, warmupSteps: 0, firstStep: 0, padId: 0, where: 'test', lrScales: b.variableFactors(['S']).map(() => mult),
      optimizer: { kind: 'adamw', betas: [0.9, 0.999], weightDecay: 0, gradClip: 0 },
    });
    const d = maxDiff(b.variables(['S'])[0].dataSync(), S0);
    b.remove();
    return d;
  };
  const ratio = (await firstStepSize(4)) / (await firstStepSize(1));
  assert.ok(Math.abs(ratio - 4) < 1e-3, `step ratio ${ratio}`);
  model.dispose();
});

test('a diagonal core stays r per-client scalars and computes B diag(s) A', async () => {
  const model = GPT2.fromArrays(TINY, initGPT2Arrays(TINY, 4));
  const c = colora('diagonal');
  const state = initialAdapterState(targetedLinears(model, c.targets), c, 0, { coreInit: 'gaussian', coreSigma: 0.5, sharedInit: 'peft' });
  for (const f of state.values()) new Rng(2).fillNormal(f.B, 0.5);
  const a = new InjectedAdapter(model, c, state);
  await trainLocally(model, a.variables(['A', 'B', 'S']), EXAMPLES, new Rng(1), {
    steps: 3, batchSize: 2, lr: 1e-2, warmupSteps: 0, firstStep: 0, padId: 0, where: 'test',
    optimizer: { kind: 'adamw', betas: [0.9, 0.999], weightDecay: 0.1, gradClip: 1 },
  });
  const trained = await a.read();
  const y = model.forward(IDS).dataSync().slice();
  a.remove();
  for (const f of trained.values()) assert.equal(f.S!.length, R);
  // The same factors with the core written out as a full diagonal matrix give the same logits.
  const full: AdapterState = new Map([...trained].map(([k, f]) => [k, { ...f, S: coreMatrix(f.S!, R) }]));
  const b = new InjectedAdapter(model, colora(), full);
  assert.ok(maxDiff(model.forward(IDS).dataSync(), y) < 1e-5);
  for (const f of full.values()) for (let i = 0; i < R; i++) for (let j = 0; j < R; j++) if (i !== j) assert.equal(f.S![i * R + j], 0);
  b.remove();
  model.dispose();
});

test('core diagnostics on hand-made numbers', () => {
  // One layer, rank 2, out 2, in 2: B = I, A = I, so ΔW = S (scale 1 aside).
  const I = Float32Array.from([1, 0, 0, 1]);
  const layer = (S: number[]) => new Map([['L', { A: I, B: I, S: Float32Array.from(S) }]]);
  const s0 = new Map([['L', I]]);
  const mean = new Map([['L', Float32Array.from([2, 0, 0, 3])]]);
  const d = coreDiagnostics(layer([3, 0, 0, 3]), s0, mean, 2);
  assert.ok(Math.abs(d.core_change - Math.sqrt(8) / Math.sqrt(2)) < 1e-6); // ‖S − I‖ = ‖diag(2, 2)‖
  assert.ok(Math.abs(d.core_cond - 1) < 1e-9);
  assert.ok(Math.abs(d.personal_share - 1 / Math.sqrt(18)) < 1e-6); // ‖diag(1, 0)‖ / ‖diag(3, 3)‖
  assert.equal(conditionNumber(Float32Array.from([1, 4]), 2), 4); // a diagonal core
  assert.equal(conditionNumber(Float32Array.from([1, 2, 2, 4]), 2), Infinity);
  // ‖P Q‖_F without forming P Q: P = [[1, 2], [0, 1], [3, 0]], Q = [[1, 0, 2], [0, 1, 1]] → P Q = [[1, 2, 4], [0, 1, 1], [3, 0, 6]].
  assert.ok(Math.abs(productNorm(Float32Array.from([1, 2, 0, 1, 3, 0]), Float32Array.from([1, 0, 2, 0, 1, 1]), 2) - Math.sqrt(1 + 4 + 16 + 1 + 1 + 9 + 36)) < 1e-9);
});
