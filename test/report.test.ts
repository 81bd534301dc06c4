import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeResolvedConfig } from '../src/experiment/run-layout.js';
import { writeLog, writeResultsCsv } from '../src/experiment/results-files.js';
import type { ResultRow, RoundLog } from '../src/experiment/records.js';
import { writeSimilarityCsv, readSimilarityCsv } from '../src/report/similarity-files.js';
import type { SimilarityRow } from '../src/report/subspace-similarity.js';
import { reportCommand, writeReport } from '../src/report/report-command.js';
import { focusTasks } from '../src/report/plots.js';
import { loadRunData } from '../src/report/run-data.js';
import { UsageError } from '../src/util/errors.js';
import { saveAdapter } from '../src/adapters/peft-io.js';
import { gpt2Family } from '../src/model/gpt2-family.js';
import { formatInterval, pairedSummary, t975 } from '../src/report/stats.js';
import { tempDir } from './helpers/temp.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const T205 = 'task205_remove_even_elements';
const GROUPINGS = [
  { name: 'similar', clients: [{ name: 'c205', tasks: [T205] }, { name: 'c369', tasks: ['task369_synthetic_remove_odds'] }] },
  { name: 'dissimilar', clients: [{ name: 'c205', tasks: [T205] }, { name: 'c376', tasks: ['task376_reverse_order_of_words'] }] },
];
const METHODS = ['base', 'local', 'fedavg', 'colora'] as const;
const SEEDS = [0, 1];

function config(groupings = GROUPINGS, methods: readonly string[] = METHODS) {
  return {
    name: 'synthetic',
    seed: 0,
    model: 'builtin:tiny-ni',
    data: { tasks_dir: 'builtin', train_per_task: 32, test_per_task: 24 },
    adapter: { rank: 4, alpha: 8, targets: ['attn.c_attn'] },
    methods,
    train: { rounds: 3, local_steps: 2 },
    sweep: { groupings, seeds: SEEDS },
  };
}

/** A sweep directory with made-up but well-formed results, log and similarity rows. */
function syntheticSweep(): string {
  const dir = tempDir('colora-report-');
  writeResolvedConfig(dir, config());
  const rows: ResultRow[] = [];
  const log: RoundLog[] = [];
  const sim: SimilarityRow[] = [];
  for (const g of GROUPINGS)
    for (const seed of SEEDS)
      for (const [mi, method] of METHODS.entries()) {
        for (const c of g.clients)
          rows.push({ grouping: g.name, seed, method, client: c.name, task: c.tasks[0], rougeL: 20 + 10 * mi + seed + (g.name === 'similar' ? 5 : 0), exact_match: 5 * mi, n_test: 24 });
        if (method === 'base') continue;
        for (let round = 1; round <= 3; round++)
          for (const c of g.clients)
            log.push({
              grouping: g.name, seed, method, round, client: c.name, steps: 2, loss_mean: 2 / round + mi * 0.1, loss_last: 1.5 / round, lr: 0.003, seconds: 1,
              ...(method === 'colora' ? { core_change: 0.1 * round, core_cond: 1 + 0.5 * round, personal_share: 0.05 * round } : {}),
            });
        for (const layer of ['h.0.attn.c_attn', 'h.1.attn.c_attn'])
          for (const k of [1, 4])
            sim.push({ grouping: g.name, seed, method, layer, client_a: g.clients[0].name, client_b: g.clients[1].name, k, value: g.name === 'similar' ? 0.6 : 0.1 });
      }
  writeResultsCsv(join(dir, 'results.csv'), rows);
  writeLog(join(dir, 'log.jsonl'), log);
  writeSimilarityCsv(join(dir, 'similarity.csv'), sim);
  return dir;
}

test('similarity.csv round-trips', () => {
  const dir = tempDir('colora-simcsv-');
  try {
    const rows: SimilarityRow[] = [{ grouping: 'g', seed: 1, method: 'colora', layer: 'h.0.attn.c_attn', client_a: 'a', client_b: 'b', k: 8, value: 0.1234567 }];
    writeSimilarityCsv(join(dir, 's.csv'), rows);
    assert.equal(readFileSync(join(dir, 's.csv'), 'utf8'), 'grouping,seed,method,layer,client_a,client_b,k,value\ng,1,colora,h.0.attn.c_attn,a,b,8,0.123457\n');
    assert.deepEqual(readSimilarityCsv(join(dir, 's.csv')), [{ ...rows[0], value: 0.123457 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('report: summary with overview, task similarity and ± std; five figures as SVG with titles and legends, and PNG', async () => {
  const dir = syntheticSweep();
  try {
    const r = await writeReport(dir);
    assert.deepEqual(r.plots.skipped, []);
    const names = r.plots.figures.map((f) => f.name);
    assert.deepEqual(names, [`partner-groups_${T205}`, 'score-vs-similarity', 'gain-vs-similarity', 'colora-minus-baselines', 'subspace-similarity', 'training-loss', 'colora-core']);
    assert.deepEqual(readdirSync(join(dir, 'plots')).sort(), names.flatMap((n) => [`${n}.png`, `${n}.svg`]).sort(), 'no temp files');
    for (const n of names) {
      const svg = readFileSync(join(dir, 'plots', `${n}.svg`), 'utf8');
      assert.match(svg, /^<svg[\s>][\s\S]*<\/svg>\s*$/, n);
      assert.deepEqual(readFileSync(join(dir, 'plots', `${n}.png`)).subarray(0, 8), PNG_SIGNATURE, n);
    }
    const svg = (n: string) => readFileSync(join(dir, 'plots', `${n}.svg`), 'utf8');
    const fig2 = svg(`partner-groups_${T205}`);
    for (const s of [`Rouge-L on ${T205} (×100)`, 'partner group (grouping)', '>local LoRA (trained alone)<', '>CoLoRA<', '>FedAvg-LoRA<', '>similar (0.', '>dissimilar (0.0', 'measured task similarity to the partners']) assert.ok(fig2.includes(s), `Figure 2 shows ${s}`);
    const fig3 = svg('score-vs-similarity');
    for (const s of ['task similarity of the grouping (mean pairwise, 0–1)', 'mean Rouge-L over clients (×100)', '>base model (zero-shot)<', '>similar (0.']) assert.ok(fig3.includes(s), `Figure 3 shows ${s}`);
    const gain = svg('gain-vs-similarity');
    for (const s of ['Δ Rouge-L vs local LoRA (×100 points)', '>CoLoRA<', '>FedAvg-LoRA<']) assert.ok(gain.includes(s), `gain figure shows ${s}`);
    assert.ok(!gain.includes('>local LoRA (trained alone)<') && !gain.includes('>base model'), 'only collaborative methods');
    const fig4 = svg('colora-minus-baselines');
    for (const s of ['Δ Rouge-L, CoLoRA − baseline (×100 points)', '>FedAvg-LoRA<', '>local LoRA (trained alone)<']) assert.ok(fig4.includes(s), `Figure 4 shows ${s}`);
    assert.ok(!fig4.includes('>CoLoRA<'), 'CoLoRA is not its own baseline');
    const fig5 = svg('subspace-similarity');
    for (const s of ['subspace similarity (0–1)', 'block (attn.c_attn)', '>similar tasks (≥ 0.5)<', '>dissimilar tasks (&lt; 0.5)<', '>1<']) assert.ok(fig5.includes(s), `Figure 5 shows ${s}`);
    const loss = svg('training-loss');
    for (const s of ['training loss (nats/token)', 'cross-entropy per target token', '>round<', '>CoLoRA<']) assert.ok(loss.includes(s), `loss figure shows ${s}`);
    const core = svg('colora-core');
    for (const s of ['‖S_i − S_i(0)‖ / ‖S_i(0)‖', 'cond(S_i), max over layers', 'personal share of ‖ΔW_i‖', '>similar/c205<', '>round<']) assert.ok(core.includes(s), `core figure shows ${s}`);

    const md = readFileSync(join(dir, 'summary.md'), 'utf8');
    assert.match(md, /Sweep `synthetic`: 16 of 16 cells finished/);
    // colora (mi = 3): per seed 50 + seed (+5 for similar) → similar 55.5 ± 0.7.
    assert.match(md, /\| similar \| 0\.\d\d \| 25\.5 ± 0\.7 \| 35\.5 ± 0\.7 \| 45\.5 ± 0\.7 \| 55\.5 ± 0\.7 \|/);
    assert.match(md, /\| dissimilar \| 0\.0\d \| 20\.5 ± 0\.7 \|/);
    // The cores at the last round (3): change 0.3, cond 2.5, personal share 0.15 for every client.
    assert.match(md, /## CoLoRA's personal cores/);
    assert.match(md, /\| similar \| 3 \| 0\.300 \(0\.300–0\.300\) \| 2\.500 \(2\.500–2\.500\) \| 0\.150 \(0\.150–0\.150\) \|/);
    assert.match(md, /Measured task similarity 0\.\d\d \(client pairs: c205–c369 0\.\d\d\)/);
    assert.match(md, /\| fedavg \| \+10\.0 ± 0\.0 \| \[\+10\.0, \+10\.0\] \* \| 2 of 2 seeds \|/, 'CoLoRA minus FedAvg, per seed, with its interval');
    assert.match(md, /\| similar \| colora \| 0\.600 \| 0\.600 \|/, 'subspace table');
    assert.match(md, /\[plots\/score-vs-similarity\.svg\]\(plots\/score-vs-similarity\.svg\)/);
    const taskSim = readFileSync(join(dir, 'task-similarity.csv'), 'utf8').trim().split('\n');
    assert.equal(taskSim[0], 'grouping,client_a,client_b,value');
    assert.equal(taskSim.length, 3);
    const sim = (g: string) => Number(taskSim.find((l) => l.startsWith(g + ','))!.split(',')[3]);
    assert.ok(sim('similar') > 0.5 && sim('dissimilar') < 0.1, taskSim.join(' / '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('report skips, with a reason, the figures a single-grouping run has no data for', async () => {
  const dir = tempDir('colora-report-one-');
  try {
    writeResolvedConfig(dir, { ...config([GROUPINGS[0]], ['local', 'fedavg']), sweep: undefined, clients: GROUPINGS[0].clients });
    writeResultsCsv(join(dir, 'results.csv'), [{ grouping: 'default', seed: 0, method: 'local', client: 'c205', task: T205, rougeL: 40, exact_match: 10, n_test: 24 }]);
    const r = await writeReport(dir);
    assert.deepEqual(r.plots.figures.map((f) => f.name), []);
    const md = readFileSync(join(dir, 'summary.md'), 'utf8');
    for (const s of ['Partner groups (Figure 2): skipped', '(Figure 3) (`score-vs-similarity`): skipped', 'CoLoRA is not among the methods', 'no similarity.csv rows', 'log.jsonl holds no training rounds']) assert.ok(md.includes(s), s);
    assert.match(md, /Run `synthetic`/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the focus task is the one every grouping holds; report on a non-run directory is a usage error', async () => {
  const dir = syntheticSweep();
  try {
    assert.deepEqual(focusTasks(loadRunData(dir)), [T205]);
    writeResolvedConfig(dir, config([GROUPINGS[0], { name: 'other', clients: [{ name: 'x', tasks: ['task376_reverse_order_of_words'] }] }]));
    assert.deepEqual(focusTasks(loadRunData(dir)), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const empty = tempDir('colora-report-empty-');
  await assert.rejects(reportCommand({ run: empty }), (e) => e instanceof UsageError && /no config\.resolved\.yaml/.test(e.message));
  assert.ok(!existsSync(join(empty, 'summary.md')));
  rmSync(empty, { recursive: true, force: true });
});

test('a run without similarity.csv gets it from its saved adapters (colora train layout)', async () => {
  const dir = tempDir('colora-report-adapters-');
  try {
    const clients = GROUPINGS[0].clients;
    writeResolvedConfig(dir, { ...config([GROUPINGS[0]], ['local', 'colora']), sweep: undefined, clients });
    const r = 2;
    const A = Float32Array.from([1, 0, 0, 0, 1, 0]); // r × in = 2 × 3
    const e = (i: number) => Float32Array.from({ length: 4 * r }, (_, k) => (k === i * r ? 1 : k === ((i + 1) % 4) * r + 1 ? 1 : 0)); // out = 4: columns e_i, e_{i+1}
    const save = (method: string, personal: boolean, Bs: Float32Array[]) =>
      clients.forEach((c, i) =>
        saveAdapter(join(dir, 'methods', method, 'adapters', c.name), { rank: r, alpha: 4, targets: ['attn.c_attn'], dropout: 0, personal }, new Map([['h.0.attn.c_attn', { A, B: Bs[i], ...(personal ? { S: Float32Array.from([2, 1, 0, 1]) } : {}) }]]), 'm', gpt2Family.peft),
      );
    save('local', false, [e(0), e(2)]); // span(e0, e1) vs span(e2, e3): orthogonal
    save('colora', true, [e(0), e(0)]); // same B: same column space
    await writeReport(dir);
    const rows = readSimilarityCsv(join(dir, 'similarity.csv'));
    const v = (m: string, k: number) => rows.find((x) => x.method === m && x.k === k)!.value;
    assert.equal(rows.length, 4);
    assert.ok(Math.abs(v('local', 2)) < 1e-9);
    assert.ok(Math.abs(v('colora', 2) - 1) < 1e-9);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('paired differences over seeds: Student-t 95 % interval and seeds ahead', () => {
  assert.equal(t975(4), 2.776);
  assert.equal(t975(100), 1.96);
  // diffs 1, 2, 3, 4, 5: mean 3, sd √2.5, half-width 2.776 · √2.5 / √5 = 1.963
  const s = pairedSummary([1, 2, 3, 4, 5]);
  assert.equal(s.mean, 3);
  assert.ok(Math.abs(s.lo - (3 - 1.9629)) < 1e-3 && Math.abs(s.hi - (3 + 1.9629)) < 1e-3, `${s.lo} ${s.hi}`);
  assert.equal(s.ahead, 5);
  assert.equal(formatInterval(s), '[+1.0, +5.0] *');
  const noisy = pairedSummary([-4, 6, 1]);
  assert.equal(noisy.ahead, 2);
  assert.ok(noisy.lo < 0 && noisy.hi > 0);
  assert.ok(!formatInterval(noisy).includes('*'), 'an interval across 0 is not marked');
  assert.equal(formatInterval(pairedSummary([2])), '–', 'one seed: no interval');
});
