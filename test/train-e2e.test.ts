import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { loadExperimentConfig } from '../src/config/load.js';
import { runExperiment } from '../src/experiment/run-experiment.js';
import { readResultsCsv, readJsonl } from '../src/experiment/results-files.js';
import { loadAdapter } from '../src/adapters/peft-io.js';
import type { RoundLog } from '../src/experiment/records.js';
import { tempDir } from './helpers/temp.js';

let modelDir = '';
before(async () => {
  modelDir = await makeTinyModelDir();
});

function writeConfig(extra = ''): string {
  const dir = tempDir('colora-e2e-');
  const file = join(dir, 'exp.yaml');
  writeFileSync(
    file,
    `name: e2e
seed: 3
model: ${modelDir}
backend: cpu
data: { tasks_dir: builtin, train_per_task: 12, test_per_task: 4, max_source_tokens: 160, max_target_tokens: 12 }
clients:
  - { name: a, tasks: [task205_remove_even_elements] }
  - { name: b, tasks: [task369_synthetic_remove_odds] }
adapter: { rank: 4, alpha: 8, targets: [attn.c_attn] }
methods: [base, local, fedavg, colora]
train: { rounds: 2, local_steps: 2, batch_size: 4, lr: 0.01 }
eval: { max_new_tokens: 6, batch_size: 8 }
${extra}`,
  );
  return file;
}

test('train writes the contract files: resolved config, results.csv, predictions, summary, PEFT adapters, log', async () => {
  const cfg = writeConfig();
  const out = join(tempDir('colora-run-'), 'run');
  await runExperiment(loadExperimentConfig(cfg), { out, quiet: true });
  for (const f of ['config.resolved.yaml', 'results.csv', 'predictions.jsonl', 'summary.md', 'log.jsonl']) assert.ok(existsSync(join(out, f)), f);
  const rows = readResultsCsv(join(out, 'results.csv'));
  assert.equal(rows.length, 8); // 4 methods × 2 clients × 1 task
  assert.deepEqual(Object.keys(rows[0]), ['grouping', 'seed', 'method', 'client', 'task', 'rougeL', 'exact_match', 'n_test', 'n_cut']);
  assert.ok(rows.every((r) => r.grouping === 'default' && r.seed === 3 && r.n_test === 4 && r.rougeL >= 0 && r.rougeL <= 100));
  const preds = readJsonl<Record<string, unknown>>(join(out, 'predictions.jsonl'));
  assert.equal(preds.length, 32);
  for (const k of ['id', 'prompt', 'prediction', 'references', 'rougeL', 'exact_match']) assert.ok(k in preds[0], k);
  const log = readJsonl<RoundLog>(join(out, 'log.jsonl'));
  assert.equal(log.length, 3 * 2 * 2); // 3 trained methods × 2 rounds × 2 clients
  assert.ok(log.every((l) => Number.isFinite(l.loss_mean)));
  const colora = loadAdapter(join(out, 'methods', 'colora', 'adapters', 'a'));
  assert.equal(colora.config.personal, true);
  assert.ok(readFileSync(join(out, 'summary.md'), 'utf8').includes('| colora |'));
  assert.ok(readFileSync(join(out, 'config.resolved.yaml'), 'utf8').includes('client_fraction: 1'));
});

test('same seed, same numbers: two runs give identical results and losses', async () => {
  const cfg = writeConfig();
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const out = join(tempDir('colora-run-'), 'run');
    await runExperiment(loadExperimentConfig(cfg), { out, quiet: true });
    runs.push({ csv: readFileSync(join(out, 'results.csv'), 'utf8'), log: readJsonl<RoundLog>(join(out, 'log.jsonl')).map((l) => l.loss_mean) });
  }
  assert.equal(runs[0].csv, runs[1].csv);
  assert.deepEqual(runs[0].log, runs[1].log);
});

test('a run interrupted after a round resumes from its checkpoint and ends where an uninterrupted one does', async () => {
  const cfg = writeConfig();
  const full = join(tempDir('colora-run-'), 'run');
  await runExperiment(loadExperimentConfig(cfg), { out: full, quiet: true });

  // Simulate a kill after round 1 of colora: keep only its round-1 checkpoint, then rerun.
  const cut = join(tempDir('colora-run-'), 'run');
  const short = writeConfig().replace(/exp\.yaml$/, 'short.yaml');
  writeFileSync(short, readFileSync(cfg, 'utf8').replace('rounds: 2', 'rounds: 1').replace('methods: [base, local, fedavg, colora]', 'methods: [colora]'));
  await runExperiment(loadExperimentConfig(short), { out: cut, quiet: true, evaluate: false });
  const ckpt = join(cut, 'methods', 'colora', 'checkpoint', 'checkpoint.json');
  assert.ok(existsSync(ckpt));
  // The checkpoint is tied to the run's settings: retarget it to the 2-round config's fingerprint.
  const loaded = loadExperimentConfig(cfg);
  loaded.config.methods = ['colora'];
  rmSync(join(cut, 'log.jsonl'));
  const meta = JSON.parse(readFileSync(ckpt, 'utf8'));
  assert.equal(meta.round, 0);
  const fullMeta = JSON.parse(readFileSync(join(full, 'methods', 'colora', 'checkpoint', 'checkpoint.json'), 'utf8'));
  meta.fingerprint = fullMeta.fingerprint;
  writeFileSync(ckpt, JSON.stringify(meta));
  await runExperiment(loaded, { out: cut, quiet: true });
  const resumed = readResultsCsv(join(cut, 'results.csv'));
  const reference = readResultsCsv(join(full, 'results.csv')).filter((r) => r.method === 'colora');
  assert.deepEqual(resumed, reference);
});

test('a non-finite loss stops the run naming method, client, round and step, and keeps what was written', async () => {
  const cfg = writeConfig().replace(/exp\.yaml$/, 'nan.yaml');
  writeFileSync(cfg, readFileSync(writeConfig(), 'utf8').replace('lr: 0.01', 'lr: 1.0e+30, grad_clip: 0').replace('methods: [base, local, fedavg, colora]', 'methods: [base, colora]'));
  const out = join(tempDir('colora-run-'), 'run');
  await assert.rejects(runExperiment(loadExperimentConfig(cfg), { out, quiet: true }), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /non-finite loss .* at method colora, client a, round \d+, seed 3, step \d+ of 2/);
    return true;
  });
  // the base model's results, written before colora started, are still there
  const rows = readResultsCsv(join(out, 'results.csv'));
  assert.ok(rows.length === 2 && rows.every((r) => r.method === 'base'));
  // log.jsonl and summary.md say where training stopped
  const stops = readJsonl<Record<string, unknown>>(join(out, 'log.jsonl')).filter((l) => 'stopped' in l);
  assert.equal(stops.length, 1);
  assert.equal(stops[0].method, 'colora');
  assert.equal(stops[0].client, 'a');
  assert.ok(Number(stops[0].round) >= 1 && Number(stops[0].step) >= 1);
  assert.match(String(stops[0].stopped), /non-finite loss/);
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), new RegExp(`Stopped:\\*\\* seed 3, method colora, client a, round ${stops[0].round}, step ${stops[0].step}: non-finite loss`));
});
