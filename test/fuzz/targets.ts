/**
 * THE FUZZ REGISTRY: every input a user can hand colora, with how to damage it and the entry point
 * that reads it. To fuzz something new (a model family's config.json and weights, a queue job's
 * payload, a new file format), add one line to TARGETS: a name, a case count, and `make`, which
 * writes a damaged copy of a valid input under the case's folder and returns either the `colora`
 * arguments that read it (`argv`, run in-process through runCli) or a loader call (`call`, run
 * through runGuarded). The mutators live in mutators.ts, the valid inputs in fixtures.ts. Every
 * case must end with exit 0 or 2, and with exit 2 exactly one line on stderr (fuzz.test.ts).
 */
import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../../src/util/rng.js';
import { loadRoundCheckpoint } from '../../src/train/round-checkpoint.js';
import { loadAdapter } from '../../src/adapters/peft-io.js';
import { loadGPT2 } from '../../src/model/checkpoint.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { readTaskFile } from '../../src/data/ni-task.js';
import type { Fixture } from './fixtures.js';
import { TASKS } from './fixtures.js';
import { mutateBytes, mutateJson, mutateJsonFile, mutateSafetensors, mutateYaml, pick, ri, jsonText } from './mutators.js';

export interface FuzzCase {
  /** `colora` arguments (without node and script). */
  argv?: string[];
  /** Or a loader to call. */
  call?: () => Promise<unknown>;
  /** The damaged input (kept when the case fails). */
  input: string;
  /** What was damaged, for the failure message. */
  how: string;
}

export interface FuzzTarget {
  name: string;
  /** Cases per run (the test may scale these). */
  cases: number;
  /** False for loader targets (no command line) and commands too slow for a subprocess case. */
  subprocess?: boolean;
  make(rng: Rng, fx: Fixture, dir: string): FuzzCase;
}

const json = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));
const MODEL_KEYS = ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'n_inner', 'layer_norm_epsilon', 'eos_token_id', 'bos_token_id', 'tie_word_embeddings', 'activation_function', 'model_type'];
const TOKENIZER_KEYS = ['model', 'vocab', 'merges', 'added_tokens', 'pre_tokenizer', 'decoder', 'type', 'id', 'content', 'normalizer', 'post_processor'];
const ADAPTER_KEYS = ['r', 'lora_alpha', 'target_modules', 'peft_type', 'lora_dropout'];
const TASK_KEYS = ['Definition', 'Instances', 'input', 'output', 'Positive Examples', 'Negative Examples', 'id'];

function copy(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  return to;
}

/** A copy of the model directory with one of its files damaged by `damage`. */
function damagedModel(fx: Fixture, dir: string, file: string, damage: (bytes: Uint8Array) => { bytes: Uint8Array; how: string }): { model: string; how: string; input: string } {
  const model = copy(fx.modelDir, join(dir, 'model'));
  const m = damage(readFileSync(join(model, file)));
  writeFileSync(join(model, file), m.bytes);
  return { model, how: `${file}: ${m.how}`, input: join(model, file) };
}

const generateIds = (model: string, extra: string[] = []) => ['generate', '--model', model, '--input-ids', '1,2,3', '--max-new-tokens', '2', '--json', ...extra];

export const TARGETS: FuzzTarget[] = [
  {
    name: 'safetensors weights (generate)',
    cases: 60,
    make(rng, fx, dir) {
      const d = damagedModel(fx, dir, 'model.safetensors', (b) => mutateSafetensors(rng, b));
      return { argv: generateIds(d.model), input: d.input, how: d.how };
    },
  },
  {
    name: 'model config.json (generate)',
    cases: 45,
    make(rng, fx, dir) {
      const d = damagedModel(fx, dir, 'config.json', () => mutateJsonFile(rng, json(join(fx.modelDir, 'config.json')), MODEL_KEYS));
      return { argv: generateIds(d.model), input: d.input, how: d.how };
    },
  },
  {
    name: 'sharded checkpoint index (generate)',
    cases: 10,
    make(rng, fx, dir) {
      const model = copy(fx.modelDir, join(dir, 'model'));
      renameSync(join(model, 'model.safetensors'), join(model, 'model-00001-of-00001.safetensors'));
      const index = { metadata: { total_size: 1 }, weight_map: { 'transformer.wte.weight': 'model-00001-of-00001.safetensors', 'transformer.wpe.weight': 'model-00001-of-00001.safetensors' } };
      const m = mutateJsonFile(rng, index, ['weight_map', 'transformer.wte.weight']);
      writeFileSync(join(model, 'model.safetensors.index.json'), m.bytes);
      return { argv: generateIds(model), input: join(model, 'model.safetensors.index.json'), how: m.how };
    },
  },
  {
    name: 'tokenizer files (generate --prompt)',
    cases: 30,
    make(rng, fx, dir) {
      const file = rng.next() < 0.75 ? 'tokenizer.json' : 'tokenizer_config.json';
      const d = damagedModel(fx, dir, file, () => {
        const value = json(join(fx.modelDir, file)) as Record<string, unknown>;
        if (file === 'tokenizer_config.json' && rng.next() < 0.4) {
          // Another transformers.js tokenizer class over this tokenizer.json.
          value.tokenizer_class = pick(rng, ['LlamaTokenizerFast', 'BertTokenizer', 'T5Tokenizer', 'WhisperTokenizer', 'NllbTokenizer', 'Qwen2Tokenizer', 'MarianTokenizer', 'NoSuchTokenizer']);
          return { bytes: Buffer.from(JSON.stringify(value)), how: `tokenizer_class = ${value.tokenizer_class}` };
        }
        return mutateJsonFile(rng, value, TOKENIZER_KEYS.concat(['eos_token', 'pad_token', 'tokenizer_class']));
      });
      return { argv: ['generate', '--model', d.model, '--prompt', 'remove 1, 2, 3', '--max-new-tokens', '2', '--json'], input: d.input, how: d.how };
    },
  },
  {
    name: 'adapter directory (generate --adapter)',
    cases: 45,
    make(rng, fx, dir) {
      const adapter = copy(fx.adapterDir, join(dir, 'adapter'));
      const k = rng.next();
      let input: string;
      let how: string;
      if (k < 0.45) {
        input = join(adapter, 'adapter_config.json');
        const m = mutateJsonFile(rng, json(input), ADAPTER_KEYS);
        writeFileSync(input, m.bytes);
        how = m.how;
      } else if (k < 0.9) {
        input = join(adapter, 'adapter_model.safetensors');
        const m = mutateSafetensors(rng, readFileSync(input));
        writeFileSync(input, m.bytes);
        how = m.how;
      } else {
        input = join(adapter, pick(rng, ['adapter_config.json', 'adapter_model.safetensors']));
        rmSync(input);
        how = 'deleted';
      }
      return { argv: generateIds(fx.modelDir, ['--adapter', adapter]), input, how: `${input}: ${how}` };
    },
  },
  {
    name: 'NI task file (check)',
    cases: 45,
    make(rng, fx, dir) {
      const tasks = copy(fx.tasksDir, join(dir, 'tasks'));
      const input = join(tasks, `${pick(rng, TASKS)}.json`);
      const task = json(input) as Record<string, unknown>;
      let m: { bytes: Uint8Array; how: string };
      if (rng.next() < 0.15) {
        task[pick(rng, ['Definition', 'Instances'])] = pick(rng, [['x'.repeat(3_000_000)], [{ input: 'y'.repeat(3_000_000), output: ['z'] }]]);
        m = { bytes: Buffer.from(JSON.stringify(task)), how: 'a 3 MB string' };
      } else m = mutateJsonFile(rng, task, TASK_KEYS);
      writeFileSync(input, m.bytes);
      const cfg = join(dir, 'config.yaml');
      writeFileSync(cfg, fx.configTemplate.replace('{{TASKS}}', tasks));
      return { argv: ['check', '--config', cfg], input, how: `${input}: ${m.how}` };
    },
  },
  {
    name: 'NI task file (data inspect)',
    cases: 15,
    make(rng, fx, dir) {
      const tasks = copy(fx.tasksDir, join(dir, 'tasks'));
      const name = pick(rng, TASKS);
      const input = join(tasks, `${name}.json`);
      const m = mutateJsonFile(rng, json(input), TASK_KEYS);
      writeFileSync(input, m.bytes);
      return { argv: ['data', 'inspect', '--tasks-dir', tasks, '--task', name, '--examples', '2'], input, how: `${input}: ${m.how}` };
    },
  },
  {
    name: 'YAML experiment config (check)',
    cases: 50,
    make(rng, fx, dir) {
      const input = join(dir, 'config.yaml');
      const m = mutateYaml(rng, fx.configTemplate.replace('{{TASKS}}', fx.tasksDir));
      writeFileSync(input, m.bytes);
      return { argv: ['check', '--config', input], input, how: m.how };
    },
  },
  {
    name: 'score JSONL (score)',
    cases: 40,
    make(rng, fx, dir) {
      const input = join(dir, 'in.jsonl');
      const lines = fx.scoreLines.map((l) => Buffer.from(l));
      const i = ri(rng, 0, lines.length);
      let how: string;
      if (rng.next() < 0.6) {
        const m = mutateJson(rng, JSON.parse(fx.scoreLines[i]), ['prediction', 'references']);
        lines[i] = Buffer.from(jsonText(m.value).replace(/\n/g, ''));
        how = m.how;
      } else {
        const m = mutateBytes(rng, lines[i]);
        lines[i] = Buffer.from(m.bytes);
        how = m.how;
      }
      writeFileSync(input, Buffer.concat(lines.flatMap((l) => [l, Buffer.from(rng.next() < 0.1 ? '\r\n' : '\n')])));
      return { argv: ['score', '--input', input], input, how: `line ${i + 1}: ${how}` };
    },
  },
  {
    name: 'run directory (eval --run)',
    cases: 18,
    subprocess: false,
    make(rng, fx, dir) {
      const run = copy(fx.runDir, join(dir, 'run'));
      const client = join(run, 'methods', 'local', 'adapters', pick(rng, ['c1', 'c2']));
      const k = rng.next();
      let input: string;
      let how: string;
      if (k < 0.3) {
        input = join(run, 'config.resolved.yaml');
        const m = mutateYaml(rng, readFileSync(input, 'utf8'));
        writeFileSync(input, m.bytes);
        how = m.how;
      } else if (k < 0.6) {
        input = join(client, 'adapter_config.json');
        const m = mutateJsonFile(rng, json(input), ADAPTER_KEYS);
        writeFileSync(input, m.bytes);
        how = m.how;
      } else {
        input = join(client, 'adapter_model.safetensors');
        const m = mutateSafetensors(rng, readFileSync(input));
        writeFileSync(input, m.bytes);
        how = m.how;
      }
      return { argv: ['eval', '--run', run, '--max-instances', '1', '--quiet'], input, how: `${input}: ${how}` };
    },
  },
  {
    name: 'round checkpoint (loader)',
    cases: 25,
    subprocess: false,
    make(rng, fx, dir) {
      const ckpt = copy(fx.checkpointDir, join(dir, 'checkpoint'));
      const file = rng.next() < 0.5 ? 'checkpoint.json' : 'checkpoint.safetensors';
      const input = join(ckpt, file);
      const m = file === 'checkpoint.json' ? mutateJsonFile(rng, json(input), ['round', 'fingerprint', 'log']) : mutateSafetensors(rng, readFileSync(input));
      writeFileSync(input, m.bytes);
      return { call: async () => loadRoundCheckpoint(ckpt, fx.checkpointFingerprint), input, how: `${file}: ${m.how}` };
    },
  },
  {
    name: 'loaders: model, adapter, tokenizer, task file',
    cases: 20,
    subprocess: false,
    make(rng, fx, dir) {
      const which = ri(rng, 0, 4);
      if (which === 0) {
        const d = damagedModel(fx, dir, 'model.safetensors', (b) => mutateSafetensors(rng, b));
        return { call: async () => loadGPT2(d.model).dispose(), input: d.input, how: d.how };
      }
      if (which === 1) {
        const adapter = copy(fx.adapterDir, join(dir, 'adapter'));
        const input = join(adapter, 'adapter_model.safetensors');
        const m = mutateSafetensors(rng, readFileSync(input));
        writeFileSync(input, m.bytes);
        return { call: async () => loadAdapter(adapter), input, how: m.how };
      }
      if (which === 2) {
        const d = damagedModel(fx, dir, 'tokenizer.json', (b) => mutateBytes(rng, b));
        return { call: async () => (await loadTokenizer(d.model))?.encode('remove 1, 2'), input: d.input, how: d.how };
      }
      const input = join(dir, `${TASKS[0]}.json`);
      const m = mutateBytes(rng, readFileSync(join(fx.tasksDir, `${TASKS[0]}.json`)));
      writeFileSync(input, m.bytes);
      return { call: async () => readTaskFile(input), input, how: m.how };
    },
  },
];
