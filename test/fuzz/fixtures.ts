/**
 * The valid inputs the fuzz test damages, built once per run under one temporary folder: a tiny
 * GPT-2 directory (config.json, model.safetensors, tokenizer files), a PEFT adapter for it, NI
 * task files, an experiment config, a run directory `colora eval` accepts, a round checkpoint and
 * `score` JSONL lines.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinTask } from '../../src/data/builtin/registry.js';
import { buildPrompt } from '../../src/data/prompt.js';
import { taskToJson } from '../../src/data/ni-task.js';
import { trainBpeTokenizer } from '../../src/tokenizer/train-bpe.js';
import { saveTokenizer } from '../../src/tokenizer/save.js';
import { GPT2 } from '../../src/model/gpt2.js';
import { initGPT2Arrays } from '../../src/model/init.js';
import { saveGPT2 } from '../../src/model/checkpoint.js';
import { initialState, type AdapterState } from '../../src/adapters/state.js';
import { saveAdapter } from '../../src/adapters/peft-io.js';
import { gpt2Family } from '../../src/model/gpt2-family.js';
import { saveRoundCheckpoint } from '../../src/train/round-checkpoint.js';
import { Rng } from '../../src/util/rng.js';

export interface Fixture {
  /** Everything below lives here; the test removes it. */
  root: string;
  modelDir: string;
  adapterDir: string;
  tasksDir: string;
  /** Experiment config text; `{{TASKS}}` stands for the tasks directory. */
  configTemplate: string;
  runDir: string;
  checkpointDir: string;
  checkpointFingerprint: string;
  scoreLines: string[];
}

export const TASKS = ['task205_remove_even_elements', 'task369_synthetic_remove_odds'];
const CLIENTS = ['c1', 'c2'];
const ADAPTER = { rank: 2, alpha: 4, targets: ['attn.c_attn'], dropout: 0, personal: false };

function randomState(model: GPT2, seed: number): AdapterState {
  const state = initialState(model.linears().filter((l) => l.name.endsWith('attn.c_attn')), ADAPTER.rank, false, seed);
  const rng = new Rng(seed, 'fuzz-B');
  for (const f of state.values()) rng.fillNormal(f.B, 0.05);
  return state;
}

export async function buildFixture(): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'colora-fuzz-'));
  const modelDir = join(root, 'model');
  mkdirSync(modelDir);
  const texts: string[] = [];
  for (const name of TASKS) {
    const t = builtinTask(name, { instances: 20, seed: 3 });
    for (const inst of t.instances) texts.push(buildPrompt(t, inst, { definition: true, positiveExamples: 0 }) + inst.output[0] + '<|endoftext|>');
  }
  const trained = trainBpeTokenizer(texts, { vocabSize: 300, specialTokens: ['<|endoftext|>'], modelMaxLength: 128 });
  saveTokenizer(modelDir, trained);
  const vocabSize = Object.keys(trained.tokenizerJson.model.vocab).length;
  const config = {
    vocabSize, nPositions: 128, nEmbd: 16, nLayer: 1, nHead: 2, nInner: 32,
    activation: 'gelu_new' as const, layerNormEpsilon: 1e-5, tieWordEmbeddings: true, eosTokenId: 0, bosTokenId: 0,
  };
  const model = GPT2.fromArrays(config, initGPT2Arrays(config, 0));
  await saveGPT2(model, modelDir);

  const adapterDir = join(root, 'adapter');
  mkdirSync(adapterDir);
  saveAdapter(adapterDir, ADAPTER, randomState(model, 1), modelDir, gpt2Family.peft);

  const tasksDir = join(root, 'tasks');
  mkdirSync(tasksDir);
  for (const name of TASKS) writeFileSync(join(tasksDir, `${name}.json`), JSON.stringify(taskToJson(builtinTask(name, { instances: 12, seed: 4 })), null, 1));

  const configTemplate = [
    'name: fuzz',
    'seed: 0',
    `model: ${modelDir}`,
    'data:',
    '  tasks_dir: {{TASKS}}',
    '  train_per_task: 4',
    '  test_per_task: 2',
    '  prompt: { definition: true, positive_examples: 0 }',
    '  max_source_tokens: 48',
    '  max_target_tokens: 8',
    'clients:',
    `  - { name: ${CLIENTS[0]}, tasks: [${TASKS[0]}] }`,
    `  - { name: ${CLIENTS[1]}, tasks: [${TASKS[1]}] }`,
    'adapter: { rank: 2, alpha: 4, targets: [attn.c_attn] }',
    'methods: [local]',
    'train: { rounds: 1, local_steps: 1, batch_size: 2, lr: 0.001 }',
    'eval: { max_new_tokens: 3, batch_size: 2 }',
    '',
  ].join('\n');

  const runDir = join(root, 'run');
  mkdirSync(runDir);
  writeFileSync(join(runDir, 'config.resolved.yaml'), configTemplate.replace('{{TASKS}}', tasksDir));
  CLIENTS.forEach((c, i) => {
    const d = join(runDir, 'methods', 'local', 'adapters', c);
    mkdirSync(d, { recursive: true });
    saveAdapter(d, ADAPTER, randomState(model, 10 + i), modelDir, gpt2Family.peft);
  });

  const checkpointDir = join(root, 'checkpoint');
  mkdirSync(checkpointDir);
  const checkpointFingerprint = 'fuzz-fingerprint';
  saveRoundCheckpoint(checkpointDir, {
    round: 1,
    fingerprint: checkpointFingerprint,
    log: [{ round: 1, client: 'c1', loss: 2.5 }],
    snapshot: { global: randomState(model, 2), units: new Map([['c1', randomState(model, 3)]]) },
  });
  model.dispose();

  const scoreLines = [
    { prediction: '2, 4', references: ['2, 4'] },
    { prediction: 'the cat', references: ['a cat', 'the dog'], id: 'x' },
    { prediction: '', references: ['something'] },
  ].map((o) => JSON.stringify(o));

  return { root, modelDir, adapterDir, tasksDir, configTemplate, runDir, checkpointDir, checkpointFingerprint, scoreLines };
}
