/**
 * The run directory's promises (docs/reliability.md): a finished cell is reused only under the
 * same settings, a changed setting is refused naming the keys, --overwrite starts over, one
 * process writes a directory at a time, stale temporary files go on resume, eval keeps the
 * report's sections.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { REPO_ROOT } from './helpers/shared.js';
import { loadExperimentConfig } from '../src/config/load.js';
import { runSweep } from '../src/experiment/sweep.js';
import { runExperiment } from '../src/experiment/run-experiment.js';
import { evalCommand } from '../src/experiment/eval-command.js';
import { acquireRunLock } from '../src/experiment/run-lock.js';
import { ColoraError, UsageError } from '../src/util/errors.js';
import { sweepCommand } from '../src/experiment/sweep-command.js';
import { modelIdentity } from '../src/model/identity.js';
import { tempDir } from './helpers/temp.js';

const CLI = join(REPO_ROOT, 'bin', 'colora');
const BUILT = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
let root = '';
let modelDir = '';

before(async () => {
  root = tempDir('colora-rundir-');
  modelDir = await makeTinyModelDir();
});
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(modelDir, { recursive: true, force: true });
});

let n = 0;
/** A tiny config file; `body` is everything after `model:`/`backend:` (YAML). */
function configFile(body: string): string {
  const f = join(root, `c${n++}.yaml`);
  writeFileSync(
    f,
    `model: ${modelDir}
backend: cpu
data: { tasks_dir: builtin, train_per_task: 8, test_per_task: 2, max_source_tokens: 120, max_target_tokens: 8 }
adapter: { rank: 2, alpha: 4, targets: [attn.c_attn] }
eval: { max_new_tokens: 4, batch_size: 4 }
${body}`,
  );
  return f;
}

const CLIENTS = `[{ name: a, tasks: [task205_remove_even_elements] }, { name: b, tasks: [task369_synthetic_remove_odds] }]`;
const sweepBody = (o: { lr?: number; seeds?: string; name?: string } = {}) => `name: ${o.name ?? 'rd'}
methods: [local]
train: { rounds: 1, local_steps: 1, batch_size: 4, lr: ${o.lr ?? 0.01} }
sweep:
  seeds: ${o.seeds ?? '[0]'}
  groupings:
    - name: g
      clients: ${CLIENTS}
`;
const trainBody = (o: { lr?: number; rounds?: number; methods?: string; extra?: string } = {}) => `name: rd-train
seed: 1
clients: ${CLIENTS}
methods: ${o.methods ?? '[local]'}
train: { rounds: ${o.rounds ?? 1}, local_steps: 1, batch_size: 4, lr: ${o.lr ?? 0.01}${o.extra ?? ''} }
`;

const out = () => join(mkdtempSync(join(root, 'run-')), 'out');

test('sweep --resume under a changed train.lr exits 2 naming train.lr (old → new) and leaves results.csv and the resolved config as they were', async () => {
  const dir = out();
  await runSweep(loadExperimentConfig(configFile(sweepBody())), { out: dir, quiet: true });
  const before = readFileSync(join(dir, 'results.csv'), 'utf8');
  const resolved = readFileSync(join(dir, 'config.resolved.yaml'), 'utf8');
  await assert.rejects(runSweep(loadExperimentConfig(configFile(sweepBody({ lr: 0.02 }))), { out: dir, quiet: true, resume: true }), (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, /train\.lr: 0\.01 → 0\.02/);
    assert.match(e.message, /--overwrite/);
    assert.doesNotMatch(e.message, /train\.rounds|seed:|method:/);
    return true;
  });
  assert.equal(readFileSync(join(dir, 'results.csv'), 'utf8'), before);
  assert.equal(readFileSync(join(dir, 'config.resolved.yaml'), 'utf8'), resolved);
  assert.ok(!existsSync(join(dir, 'colora.lock')), 'the lock is released after the refusal');

  // --overwrite starts over: every cell runs again, under the new lr.
  const ran: string[] = [];
  await runSweep(loadExperimentConfig(configFile(sweepBody({ lr: 0.02 }))), { out: dir, quiet: true, overwrite: true, afterCell: (c) => ran.push(`${c.grouping.name}/${c.seed}/${c.method}`) });
  assert.deepEqual(ran, ['g/0/local']);
  const cell = JSON.parse(readFileSync(join(dir, 'cells', 'g', 'seed-0', 'local', 'cell.json'), 'utf8'));
  assert.equal(cell.inputs['train.lr'], 0.02);
});

test('adding a seed (and renaming the sweep) to a finished sweep and resuming runs only the new cells', async () => {
  const dir = out();
  await runSweep(loadExperimentConfig(configFile(sweepBody())), { out: dir, quiet: true });
  const cell0 = readFileSync(join(dir, 'cells', 'g', 'seed-0', 'local', 'cell.json'), 'utf8');
  const ran: string[] = [];
  const r = await runSweep(loadExperimentConfig(configFile(sweepBody({ seeds: '[0, 1]', name: 'renamed' }))), {
    out: dir,
    quiet: true,
    resume: true,
    afterCell: (c) => ran.push(`${c.grouping.name}/${c.seed}/${c.method}`),
  });
  assert.deepEqual(ran, ['g/1/local']);
  assert.equal(readFileSync(join(dir, 'cells', 'g', 'seed-0', 'local', 'cell.json'), 'utf8'), cell0);
  assert.deepEqual([...new Set(r.rows.map((x) => x.seed))], [0, 1]);
});

test('a failed expect: rule is exit 3 with every row written', async () => {
  const dir = out();
  const cfg = configFile(`${sweepBody()}expect:\n  - { method: local, min: 101 }\n`);
  await assert.rejects(sweepCommand({ config: cfg, out: dir, quiet: true }), (e: unknown) => e instanceof ColoraError && e.exitCode === 3 && /min 101|101/.test(e.message));
  assert.equal(readFileSync(join(dir, 'results.csv'), 'utf8').trim().split('\n').length, 1 + 2);
});

test('a sweep stopped by a non-finite loss under no_nan_loss exits 3 and says where in log.jsonl and summary.md', async () => {
  const dir = out();
  const cfg = configFile(`${sweepBody().replace('lr: 0.01', 'lr: 1.0e+30, grad_clip: 0').replace('local_steps: 1', 'local_steps: 2')}expect:\n  - { no_nan_loss: true }\n`);
  await assert.rejects(sweepCommand({ config: cfg, out: dir, quiet: true }), (e: unknown) => e instanceof ColoraError && e.exitCode === 3);
  const stops = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'stopped' in l);
  assert.equal(stops.length, 1);
  assert.deepEqual([stops[0].grouping, stops[0].seed, stops[0].method, stops[0].client, stops[0].round], ['g', 0, 'local', 'a', 1]);
  assert.match(readFileSync(join(dir, 'summary.md'), 'utf8'), /\*\*Stopped:\*\* grouping g, seed 0, method local, client a, round 1, step 2: non-finite loss/);
});

test('train into a finished run: the same config reuses it, a changed one exits 2 naming the key, --overwrite retrains', async () => {
  const dir = out();
  await runExperiment(loadExperimentConfig(configFile(trainBody())), { out: dir, quiet: true });
  const results = readFileSync(join(dir, 'results.csv'), 'utf8');
  const record = readFileSync(join(dir, 'methods', 'local', 'cell.json'), 'utf8');

  await runExperiment(loadExperimentConfig(configFile(trainBody())), { out: dir, quiet: true });
  assert.equal(readFileSync(join(dir, 'methods', 'local', 'cell.json'), 'utf8'), record, 'the finished method is reused, not retrained');
  assert.equal(readFileSync(join(dir, 'results.csv'), 'utf8'), results);

  await assert.rejects(runExperiment(loadExperimentConfig(configFile(trainBody({ rounds: 2 }))), { out: dir, quiet: true }), (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, /train\.rounds: 1 → 2/);
    return true;
  });
  assert.equal(readFileSync(join(dir, 'results.csv'), 'utf8'), results);
  assert.equal(readFileSync(join(dir, 'methods', 'local', 'cell.json'), 'utf8'), record);

  await runExperiment(loadExperimentConfig(configFile(trainBody({ rounds: 2 }))), { out: dir, quiet: true, overwrite: true });
  assert.equal(JSON.parse(readFileSync(join(dir, 'methods', 'local', 'cell.json'), 'utf8')).inputs['train.rounds'], 2);
});

test('a partly trained method (a round checkpoint, no record) under a changed config is refused too', async () => {
  const dir = out();
  await runExperiment(loadExperimentConfig(configFile(trainBody())), { out: dir, quiet: true, evaluate: false });
  assert.ok(existsSync(join(dir, 'methods', 'local', 'checkpoint', 'checkpoint.json')));
  await assert.rejects(runExperiment(loadExperimentConfig(configFile(trainBody({ lr: 0.03 }))), { out: dir, quiet: true }), (e: unknown) => e instanceof UsageError && /train\.lr: 0\.01 → 0\.03/.test(e.message));
  // The eval settings do not change training: a checkpoint resumes under new ones.
  const f = configFile(trainBody());
  writeFileSync(f, readFileSync(f, 'utf8').replace('max_new_tokens: 4', 'max_new_tokens: 3'));
  const rows = await runExperiment(loadExperimentConfig(f), { out: dir, quiet: true });
  assert.equal(rows.length, 2);
});

test('temporary files left by a killed run are removed on resume', async () => {
  const dir = out();
  await runSweep(loadExperimentConfig(configFile(sweepBody())), { out: dir, quiet: true });
  const left = [join(dir, '.results.csv.99999.tmp'), join(dir, 'cells', 'g', 'seed-0', 'local', '.cell.json.4242.tmp')];
  for (const f of left) writeFileSync(f, 'partial');
  await runSweep(loadExperimentConfig(configFile(sweepBody())), { out: dir, quiet: true, resume: true });
  for (const f of left) assert.ok(!existsSync(f), `${f} removed`);
});

test('eval --run rewrites summary.md with the sections train writes (overview, subspace similarity, figures)', async () => {
  const dir = out();
  await runExperiment(loadExperimentConfig(configFile(trainBody({ methods: '[base, local]' }))), { out: dir, quiet: true });
  const sections = (s: string) => s.split('\n').filter((l) => l.startsWith('## '));
  const trained = sections(readFileSync(join(dir, 'summary.md'), 'utf8'));
  assert.ok(trained.some((l) => l.startsWith('## Overview')) && trained.includes('## Figures'), trained.join(' | '));
  await evalCommand({ run: dir, maxInstances: 1, quiet: true });
  const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
  assert.deepEqual(sections(summary), trained);
  assert.match(summary, /Re-evaluated by `colora eval`/);
});

test('a lock held by a live process is refused naming it; a stale one (same host, pid gone) is taken over with a note', () => {
  const dir = out();
  const lockFile = join(dir, 'colora.lock');
  const live = acquireRunLock(dir, { command: 'colora train (test)' });
  assert.throws(() => acquireRunLock(dir), (e: unknown) => e instanceof UsageError && e.message.includes(`pid ${process.pid} on ${hostname()}`) && e.message.includes('colora train (test)'));
  live.release();
  assert.ok(!existsSync(lockFile));

  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  writeFileSync(lockFile, JSON.stringify({ pid: gone, host: hostname(), command: 'colora sweep (killed)', started: '2026-01-01T00:00:00Z' }));
  const notes: string[] = [];
  const lock = acquireRunLock(dir, { note: (l) => notes.push(l) });
  assert.equal(lock.tookOver?.pid, gone);
  assert.equal(notes.length, 1);
  assert.match(notes[0], new RegExp(`took over the lock .* pid ${gone} .*no longer running`));
  assert.equal(JSON.parse(readFileSync(lockFile, 'utf8')).pid, process.pid);
  lock.release();

  // A lock from another host cannot be checked: refused, naming the file to remove.
  writeFileSync(lockFile, JSON.stringify({ pid: gone, host: 'elsewhere', command: 'colora sweep', started: '2026-01-01T00:00:00Z' }));
  assert.throws(() => acquireRunLock(dir), (e: unknown) => e instanceof UsageError && e.message.includes('on elsewhere') && e.message.includes('remove'));
});

test('a model is identified by its content, not its path: a copy is the same model, a changed weight or config is not', () => {
  const copy = join(root, 'model-copy');
  cpSync(modelDir, copy, { recursive: true });
  const id = modelIdentity(modelDir);
  assert.deepEqual(modelIdentity(copy), id);
  const weights = join(copy, 'model.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(weights, bytes);
  const changed = modelIdentity(copy);
  assert.notEqual(changed.weights, id.weights);
  assert.equal(changed.config, id.config);
  writeFileSync(join(copy, 'config.json'), readFileSync(join(copy, 'config.json'), 'utf8').replace('{', '{"layer_norm_epsilon_note": 1, '));
  assert.notEqual(modelIdentity(copy).config, id.config);
});

function collect(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
}

test('two train processes on one --out: the second exits 2 naming the first one\'s pid; SIGTERM releases the lock', { skip: existsSync(BUILT) ? false : `needs the built CLI (${BUILT})` }, async () => {
  const dir = out();
  const cfg = configFile(trainBody({ rounds: 400 }));
  const first = spawn(process.execPath, [CLI, 'train', '--config', cfg, '--out', dir, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const firstDone = collect(first);
  try {
    const lockFile = join(dir, 'colora.lock');
    const t0 = Date.now();
    while (!existsSync(lockFile) && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(lockFile), 'the first train took the lock');
    const second = await collect(spawn(process.execPath, [CLI, 'train', '--config', cfg, '--out', dir, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] }));
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`is in use by pid ${first.pid} on `));
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
    first.kill('SIGTERM');
    const r = await firstDone;
    assert.equal(r.code, 143, r.stderr);
    assert.ok(!existsSync(lockFile), 'SIGTERM released the lock');
  } finally {
    first.kill('SIGKILL');
  }
});
