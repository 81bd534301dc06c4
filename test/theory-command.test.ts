import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { theoryCommand } from '../src/theory/theory-command.js';
import { parseTheoryConfig } from '../src/theory/theory-config.js';
import { UsageError } from '../src/util/errors.js';
import { REPO_ROOT } from './helpers/shared.js';
import { tempDir } from './helpers/temp.js';

test('theory config: defaults fill in, and the shipped config validates', () => {
  const cfg = parseTheoryConfig('t.yaml', 'name: t\n');
  assert.deepEqual(cfg.dims, { d_out: 20, d_in: 16, rank: 2 });
  assert.deepEqual(cfg.methods, ['coaltmin', 'local', 'shared']);
  assert.ok(cfg.sweep.xi.includes(1) && cfg.sweep.seeds.length === 3);
  const shipped = join(REPO_ROOT, 'configs', 'theory.yaml');
  parseTheoryConfig(shipped, readFileSync(shipped, 'utf8'));
});

test('theory config: one located line for a bad key or value', () => {
  assert.throws(
    () => parseTheoryConfig('t.yaml', 'name: t\nsweep:\n  xis: [1]\n'),
    (e: unknown) => e instanceof UsageError && /^t\.yaml:3: sweep\.xis: unknown key 'xis'.*did you mean 'xi'/.test(e.message),
  );
  assert.throws(
    () => parseTheoryConfig('t.yaml', 'sweep:\n  xi: [0.5, 1.5]\n'),
    (e: unknown) => e instanceof UsageError && /^t\.yaml:2: sweep\.xi\[1\]: /.test(e.message),
  );
  assert.throws(
    () => parseTheoryConfig('t.yaml', 'methods: [coaltmin, fedavg]\n'),
    (e: unknown) => e instanceof UsageError && /methods\[1\]: expected one of "coaltmin", "local", "shared"/.test(e.message),
  );
  assert.throws(
    () => parseTheoryConfig('t.yaml', 'dims: { d_out: 6, d_in: 5, rank: 3 }\n'),
    (e: unknown) => e instanceof UsageError && /dims\.rank: ξ < 1 needs 2·rank ≤ min\(d_out, d_in\) = 5/.test(e.message),
  );
});

test('colora theory writes theory.csv, config.resolved.yaml, summary.md and plots', async () => {
  const dir = tempDir('theory-');
  try {
    const config = join(dir, 'tiny.yaml');
    writeFileSync(
      config,
      [
        'name: tiny',
        'dims: { d_out: 8, d_in: 6, rank: 2 }',
        'sweep: { xi: [0.5, 1], k: [3], n_per_task: [15, 40], seeds: [0, 1] }',
        'iterations: 5',
        '',
      ].join('\n'),
    );
    const out = join(dir, 'out');
    await theoryCommand({ config, out, quiet: true });

    const csv = readFileSync(join(out, 'theory.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'xi,k,n,seed,method,iteration,subspace_distance,parameter_error,train_rmse');
    const rows = csv.slice(1).map((l) => l.split(','));
    // 2 ξ × 2 n × 2 seeds × 3 methods runs, each with iteration 0 and at most 5 more.
    const runs = new Set(rows.map((r) => r.slice(0, 5).join(',')));
    assert.equal(runs.size, 24);
    assert.ok(rows.every((r) => Number(r[5]) >= 0 && Number(r[5]) <= 5 && Number.isFinite(Number(r[7]))));

    const resolved = parseYaml(readFileSync(join(out, 'config.resolved.yaml'), 'utf8'));
    assert.equal(resolved.noise_std, 0.001);
    assert.deepEqual(resolved.methods, ['coaltmin', 'local', 'shared']);

    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    assert.match(summary, /\| k \| n per task \| ξ \| CoAltMin \(CoLoRA\) \| local \(each task alone\) \| shared Θ \(FedAvg-like\) \|/);
    assert.match(summary, /\| 3 \| 40 \| 1 \| \S+ ± \S+ \|/);

    const plots = readdirSync(join(out, 'plots')).sort();
    assert.deepEqual(plots, [
      'distance-vs-iteration_k3_n15.png',
      'distance-vs-iteration_k3_n15.svg',
      'distance-vs-iteration_k3_n40.png',
      'distance-vs-iteration_k3_n40.svg',
      'error-vs-n_k3.png',
      'error-vs-n_k3.svg',
      'error-vs-xi_k3.png',
      'error-vs-xi_k3.svg',
    ]);
    assert.ok(readFileSync(join(out, 'plots', 'error-vs-xi_k3.svg'), 'utf8').includes('task similarity ξ'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('colora theory: a missing config file is a usage error', async () => {
  await assert.rejects(theoryCommand({ config: '/nonexistent/theory.yaml', quiet: true }), (e: unknown) => e instanceof UsageError && /not found/.test(e.message));
  assert.ok(!existsSync('/nonexistent'));
});
