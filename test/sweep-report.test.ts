import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTinyModelDir } from './helpers/tiny-model.js';
import { loadExperimentConfig } from '../src/config/load.js';
import { runSweep } from '../src/experiment/sweep.js';
import { readSimilarityCsv } from '../src/report/similarity-files.js';
import { tempDir } from './helpers/temp.js';

test('a sweep ends with similarity.csv from the cells, summary.md with task similarity, and the figures', async () => {
  const tmp = tempDir('colora-sweep-report-');
  try {
    const config = join(tmp, 'sweep.yaml');
    writeFileSync(
      config,
      `name: sweep-report
model: ${await makeTinyModelDir()}
backend: cpu
data: { tasks_dir: builtin, train_per_task: 8, test_per_task: 3, max_source_tokens: 160, max_target_tokens: 8 }
adapter: { rank: 2, alpha: 4, targets: [attn.c_attn] }
methods: [local, colora]
train: { rounds: 2, local_steps: 2, batch_size: 4, lr: 0.01 }
eval: { max_new_tokens: 3, batch_size: 8 }
sweep:
  seeds: [0]
  groupings:
    - name: similar
      clients: [{ name: a, tasks: [task205_remove_even_elements] }, { name: b, tasks: [task369_synthetic_remove_odds] }]
    - name: dissimilar
      clients: [{ name: a, tasks: [task205_remove_even_elements] }, { name: b, tasks: [task376_reverse_order_of_words] }]
`,
    );
    const out = join(tmp, 'out');
    await runSweep(loadExperimentConfig(config), { out, quiet: true });
    const sim = readSimilarityCsv(join(out, 'similarity.csv'));
    // 2 groupings × 2 methods × 2 layers × 1 pair × k ∈ {1, 2}
    assert.equal(sim.length, 16);
    for (const r of sim) assert.ok(r.value >= 0 && r.value <= 1 + 1e-9, JSON.stringify(r));
    for (const r of sim.filter((x) => x.method === 'colora' && x.k === 2)) assert.ok(Math.abs(r.value - 1) < 1e-6, 'CoLoRA clients share B');
    const cell = JSON.parse(readFileSync(join(out, 'cells', 'similar', 'seed-0', 'local', 'cell.json'), 'utf8'));
    assert.equal(cell.similarity.length, 4, 'the rows live in the cell record');
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    assert.match(md, /\| similar \| 0\.\d\d \|/);
    assert.match(md, /Backend `/);
    for (const f of ['partner-groups_task205_remove_even_elements', 'score-vs-similarity', 'gain-vs-similarity', 'colora-minus-baselines', 'subspace-similarity', 'training-loss'])
      for (const ext of ['svg', 'png']) assert.ok(existsSync(join(out, 'plots', `${f}.${ext}`)), `${f}.${ext}`);
    assert.ok(existsSync(join(out, 'task-similarity.csv')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
