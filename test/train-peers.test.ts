/**
 * CoLoRA's peers end to end through `colora train` on the tiny test model: each trains, writes
 * PEFT adapters and its communication columns, and FedEx's residual survives a resume.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { loadExperimentConfig } from '../src/config/load.js';
import { runExperiment } from '../src/experiment/run-experiment.js';
import { readResultsCsv, readJsonl } from '../src/experiment/results-files.js';
import { loadAdapter } from '../src/adapters/peft-io.js';
import { evalCommand } from '../src/experiment/eval-command.js';
import type { RoundLog } from '../src/experiment/records.js';
import { tempDir } from './helpers/temp.js';

let modelDir = '';
const dirs: string[] = [];
before(async () => {
  modelDir = await makeTinyModelDir();
  dirs.push(modelDir);
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

/** The tiny model has nEmbd 32: attn.c_attn is 32 → 96, two layers; rank 4. */
const LAYERS = 2;
const R = 4;
const IN = 32;
const OUT = 96;

function writeConfig(methods: string, rounds = 2): string {
  const file = join(tmp('colora-peers-'), 'exp.yaml');
  writeFileSync(
    file,
    `name: peers
seed: 3
model: ${modelDir}
backend: cpu
data: { tasks_dir: builtin, train_per_task: 12, test_per_task: 3, max_source_tokens: 160, max_target_tokens: 8 }
clients:
  - { name: a, tasks: [task205_remove_even_elements] }
  - { name: b, tasks: [task369_synthetic_remove_odds] }
adapter: { rank: ${R}, alpha: 8, targets: [attn.c_attn] }
methods: [${methods}]
train: { rounds: ${rounds}, local_steps: 2, batch_size: 4, lr: 0.01 }
eval: { max_new_tokens: 4, batch_size: 8 }
`,
  );
  return file;
}

test('fedsa, flexlora, fedex and feddpa train end to end; results carry what each sent, counted from its payloads', async () => {
  const out = join(tmp('colora-run-'), 'run');
  await runExperiment(loadExperimentConfig(writeConfig('fedavg, fedsa, flexlora, fedex, feddpa')), { out, quiet: true });
  const rows = readResultsCsv(join(out, 'results.csv'));
  assert.equal(rows.length, 10);
  const log = readJsonl<RoundLog>(join(out, 'log.jsonl'));
  assert.ok(log.every((l) => Number.isFinite(l.loss_mean)));
  const factors = 4 * R * (IN + OUT) * LAYERS; // bytes of A and B on every layer
  const expected: Record<string, { up: number; down: number[]; trainable: number; personal: number }> = {
    fedavg: { up: factors, down: [factors, factors], trainable: R * (IN + OUT) * LAYERS, personal: 0 },
    fedsa: { up: 4 * R * IN * LAYERS, down: [4 * R * IN * LAYERS, 4 * R * IN * LAYERS], trainable: R * (IN + OUT) * LAYERS, personal: R * OUT * LAYERS },
    flexlora: { up: factors, down: [factors, factors], trainable: R * (IN + OUT) * LAYERS, personal: 0 },
    // the residual R (out × in per layer) goes down from the second round on
    fedex: { up: factors, down: [factors, factors + 4 * OUT * IN * LAYERS], trainable: R * (IN + OUT) * LAYERS, personal: 0 },
    feddpa: { up: factors, down: [factors, factors], trainable: 2 * R * (IN + OUT) * LAYERS, personal: R * (IN + OUT) * LAYERS },
  };
  for (const [method, e] of Object.entries(expected)) {
    const l = log.filter((x) => x.method === method && x.client === 'a');
    assert.deepEqual(l.map((x) => x.bytes_up), [e.up, e.up], method);
    assert.deepEqual(l.map((x) => x.bytes_down), e.down, method);
    const row = rows.find((r) => r.method === method && r.client === 'a')!;
    assert.equal(row.bytes_up_per_round, e.up, method);
    assert.equal(row.bytes_down_per_round, (e.down[0] + e.down[1]) / 2, method);
    assert.equal(row.trainable_params, e.trainable, method);
    assert.equal(row.personal_params, e.personal, method);
  }
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /## What each method sends/);
  assert.match(summary, /\| fedex \| 4\.0 KiB \| 16\.0 KiB \| 1,024 \| 0 \|/); // (4 + 4 + 24) / 2 KiB down

  // exports: FedSA's clients differ in B only; FedDPA's is one rank-2r LoRA; FedEx's has its residual file
  const sa = ['a', 'b'].map((c) => loadAdapter(join(out, 'methods', 'fedsa', 'adapters', c)).state.get('h.0.attn.c_attn')!);
  assert.deepEqual(Array.from(sa[0].A), Array.from(sa[1].A));
  assert.notDeepEqual(Array.from(sa[0].B), Array.from(sa[1].B));
  const dpa = loadAdapter(join(out, 'methods', 'feddpa', 'adapters', 'a'));
  assert.equal(dpa.config.rank, 2 * R);
  const fedex = ['a', 'b'].map((c) => loadAdapter(join(out, 'methods', 'fedex', 'adapters', c)));
  assert.equal(fedex[0].config.residual, true);
  const Ra = fedex[0].state.get('h.1.attn.c_attn')!.R!;
  assert.equal(Ra.length, OUT * IN);
  assert.ok(Ra.some((x) => x !== 0));
  assert.deepEqual(Array.from(Ra), Array.from(fedex[1].state.get('h.1.attn.c_attn')!.R!));

  // `colora eval` reloads every peer's saved adapter (their exactness is checked by logits in
  // adapters.test.ts) and its rows keep the communication columns
  const trained = readFileSync(join(out, 'predictions.jsonl'), 'utf8');
  const trainedRows = readResultsCsv(join(out, 'results.csv'));
  await evalCommand({ run: out, quiet: true });
  assert.equal(readFileSync(join(out, 'predictions.jsonl'), 'utf8'), trained);
  assert.deepEqual(readResultsCsv(join(out, 'results.csv')), trainedRows);
});

test('fedex resumed after its first round ends where an uninterrupted run does, residual included', async () => {
  const full = join(tmp('colora-run-'), 'run');
  await runExperiment(loadExperimentConfig(writeConfig('fedex')), { out: full, quiet: true });
  const cut = join(tmp('colora-run-'), 'run');
  await runExperiment(loadExperimentConfig(writeConfig('fedex', 1)), { out: cut, quiet: true, evaluate: false });
  const ckpt = join(cut, 'methods', 'fedex', 'checkpoint', 'checkpoint.json');
  const meta = JSON.parse(readFileSync(ckpt, 'utf8'));
  assert.equal(meta.round, 0);
  meta.fingerprint = JSON.parse(readFileSync(join(full, 'methods', 'fedex', 'checkpoint', 'checkpoint.json'), 'utf8')).fingerprint;
  writeFileSync(ckpt, JSON.stringify(meta));
  rmSync(join(cut, 'log.jsonl'));
  await runExperiment(loadExperimentConfig(writeConfig('fedex')), { out: cut, quiet: true });
  assert.deepEqual(readResultsCsv(join(cut, 'results.csv')), readResultsCsv(join(full, 'results.csv')));
  const residual = (d: string) => readFileSync(join(d, 'methods', 'fedex', 'adapters', 'b', 'colora_residual.safetensors'));
  assert.ok(existsSync(join(cut, 'methods', 'fedex', 'adapters', 'b', 'colora_residual.safetensors')));
  assert.ok(residual(cut).equals(residual(full)));
});
