/**
 * A run's data, per client: each task split into test (first N) and train (seeded draw), the
 * training examples encoded as prompt/target ids, and the test prompts ready for generation.
 */
import type { ClientSpec, DataConfig } from '../config/schema.js';
import type { TaskSource } from '../data/task-source.js';
import { splitTask, type TaskSplit } from '../data/split.js';
import { buildPrompt } from '../data/prompt.js';
import { encodePrompt, encodeTarget, MIN_PROMPT_TOKENS, noRoomForPrompt } from '../data/encode.js';
import type { Tokenizer } from '../tokenizer/load.js';
import type { Example } from '../train/batch.js';
import type { NiInstance } from '../data/ni-task.js';
import { UsageError } from '../util/errors.js';

export interface TestItem {
  task: string;
  instance: NiInstance;
  prompt: string;
  promptIds: number[];
}

export interface PreparedClient {
  name: string;
  splits: TaskSplit[];
  examples: Example[];
  tests: TestItem[];
}

export interface Encoder {
  tokenizer: Tokenizer;
  eosId: number;
  /** The model's context length: prompt + target must fit. */
  nPositions: number;
}

export function prepareClients(
  clients: readonly ClientSpec[],
  data: DataConfig,
  tasks: TaskSource,
  enc: Encoder,
  seed: number,
): PreparedClient[] {
  const maxSource = Math.min(data.max_source_tokens, enc.nPositions - data.max_target_tokens - 1);
  if (maxSource < MIN_PROMPT_TOKENS) throw new UsageError(noRoomForPrompt(data.max_target_tokens, enc.nPositions));
  const count = (s: string) => enc.tokenizer.encode(s).length;
  const promptOf = (split: TaskSplit, inst: NiInstance) =>
    buildPrompt(split.task, inst, { definition: data.prompt.definition, positiveExamples: data.prompt.positive_examples }, count, maxSource);

  return clients.map((c) => {
    const splits = c.tasks.map((name) => splitTask(tasks.load(name, data.train_per_task + data.test_per_task), data.train_per_task, data.test_per_task, seed));
    const examples: Example[] = [];
    const tests: TestItem[] = [];
    for (const split of splits) {
      for (const inst of split.train)
        examples.push({
          promptIds: encodePrompt(enc.tokenizer, promptOf(split, inst), maxSource),
          targetIds: encodeTarget(enc.tokenizer, inst.output[0], data.max_target_tokens, enc.eosId),
        });
      for (const inst of split.test) {
        const prompt = promptOf(split, inst);
        tests.push({ task: split.task.name, instance: inst, prompt, promptIds: encodePrompt(enc.tokenizer, prompt, maxSource) });
      }
    }
    return { name: c.name, splits, examples, tests };
  });
}
