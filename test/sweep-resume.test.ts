import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { REPO_ROOT } from './helpers/shared.js';
import { loadExperimentConfig } from '../src/config/load.js';
import { runSweep } from '../src/experiment/sweep.js';
import { UsageError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { tempDir } from './helpers/temp.js';

const BUILT = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const CLI = join(REPO_ROOT, 'bin', 'colora');
let config = '';

before(async () => {
  const modelDir = await makeTinyModelDir();
  config = join(tempDir('colora-sweep-'), 'sweep.yaml');
  writeFileSync(
    config,
    `name: resume
model: ${modelDir}
backend: cpu
data: { tasks_dir: builtin, train_per_task: 12, test_per_task: 4, max_source_tokens: 160, max_target_tokens: 12 }
adapter: { rank: 4, alpha: 8, targets: [attn.c_attn] }
methods: [local, colora]
train: { rounds: 3, local_steps: 3, batch_size: 4, lr: 0.01 }
eval: { max_new_tokens: 6, batch_size: 8 }
sweep:
  seeds: [0, 1]
  groupings:
    - name: similar
      clients: [{ name: a, tasks: [task205_remove_even_elements] }, { name: b, tasks: [task369_synthetic_remove_odds] }]
    - name: dissimilar
      clients: [{ name: a, tasks: [task205_remove_even_elements] }, { name: b, tasks: [task376_reverse_order_of_words] }]
expect:
  - { no_nan_loss: true }
`,
  );
});

function runCli(args: string[], killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

test('a sweep killed with SIGKILL at random moments and resumed gives the same results.csv', { skip: existsSync(BUILT) ? false : `needs the built CLI (${BUILT}); run npm test` }, async () => {
  const reference = join(tempDir('colora-sweep-ref-'), 'out');
  const t0 = Date.now();
  const ref = await runCli(['sweep', '--config', config, '--out', reference, '--quiet']);
  const fullMs = Date.now() - t0;
  assert.equal(ref.code, 0);
  const expected = readFileSync(join(reference, 'results.csv'), 'utf8');
  assert.equal(expected.trim().split('\n').length, 1 + 2 * 2 * 2 * 2); // groupings × seeds × methods × clients

  // Kill at random moments. A run can outlast its delay when the reference ran under more load
  // than it does (npm test runs two files at once); then start over, killing sooner.
  const fresh = () => join(tempDir('colora-sweep-kill-'), 'out');
  let out = fresh();
  const rng = new Rng(Date.now() % 100000);
  let kills = 0;
  let scale = 1;
  for (let attempt = 0; attempt < 8; attempt++) {
    const delay = Math.round(fullMs * scale * rng.uniform(0.15, 0.6));
    const r = await runCli(['sweep', '--config', config, '--out', out, '--quiet', ...(kills > 0 ? ['--resume'] : [])], delay);
    if (r.signal === 'SIGKILL') kills++;
    else if (kills > 0) break;
    else {
      out = fresh();
      scale /= 2;
    }
  }
  assert.ok(kills >= 1, `the sweep was killed at least once (reference run ${fullMs} ms)`);
  const final = await runCli(['sweep', '--config', config, '--out', out, '--quiet', '--resume']);
  assert.equal(final.code, 0);
  assert.equal(readFileSync(join(out, 'results.csv'), 'utf8'), expected, `results.csv after ${kills} kill(s) and --resume differs from the uninterrupted sweep's`);
});

test('without --resume, an existing sweep directory is refused (exit 2)', async () => {
  const out = join(tempDir('colora-sweep-'), 'out');
  let cells = 0;
  await assert.rejects(
    runSweep(loadExperimentConfig(config), {
      out,
      quiet: true,
      afterCell: () => {
        if (++cells === 1) throw new Error('stop after one cell');
      },
    }),
    /stop after one cell/,
  );
  await assert.rejects(runSweep(loadExperimentConfig(config), { out, quiet: true }), (e: unknown) => e instanceof UsageError && /--resume/.test(e.message));
  const r = await runSweep(loadExperimentConfig(config), { out, quiet: true, resume: true });
  assert.equal(r.rows.length, 16);
  assert.ok(r.expectations.every((e) => e.ok));
});
