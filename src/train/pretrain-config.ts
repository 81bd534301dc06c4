/** The `colora pretrain` config: data mix, tokenizer, model shape and training schedule. */
import { z } from 'zod';

const posInt = z.int().positive();

export const PretrainSchema = z.strictObject({
  name: z.string().min(1).default('tiny-ni'),
  seed: z.int().min(0).default(0),
  data: z
    .strictObject({
      /** Built-in tasks never seen in pretraining (the fine-tuning experiments' tasks). */
      hold_out: z.array(z.string()).default([]),
      instances_per_task: posInt.default(2000),
      /** Generator seed for pretraining instances (differs from the seed test sets use). */
      instance_seed: z.int().min(0).default(1000),
      /** Each example draws its number of positive examples from this list. */
      positive_examples: z.array(z.int().min(0).max(10)).min(1).default([0]),
      max_source_tokens: posInt.default(256),
      max_target_tokens: posInt.default(64),
      /** Examples are concatenated into one token stream and cut into blocks of this many tokens. */
      block_size: posInt.default(256),
      /** Loss weight of prompt tokens (output tokens weigh 1): below 1 spends the model on the tasks, not on the definitions. */
      prompt_loss_weight: z.number().min(0).max(1).default(1),
      /**
       * Fraction of training blocks that are repeated shuffled spans of the NI stream (train/
       * repeat-blocks.ts): dense practice at copying from context, which the NI tasks need.
       */
      repeat_fraction: z.number().min(0).max(0.9).default(0),
      /** Where repeated spans come from: distinct tokens of the NI stream, or uniformly random ids. */
      repeat_tokens: z.enum(['stream', 'random']).default('stream'),
    })
    .prefault({}),
  tokenizer: z
    .strictObject({
      vocab_size: posInt.min(300).default(2048),
      /** Examples (rendered prompt + output) the tokenizer is trained on. */
      corpus_examples: posInt.default(20000),
      /**
       * How numbers are pre-tokenized: `digits` (one token per digit) or `groups3` (runs of up
       * to three digits: a number below 1000 is one token). See docs/tokenizer.md.
       */
      numbers: z.enum(['digits', 'groups3']).default('digits'),
    })
    .prefault({}),
  model: z
    .strictObject({
      n_layer: posInt.default(4),
      n_embd: posInt.default(256),
      n_head: posInt.default(4),
      n_positions: posInt.default(512),
      /** Continue from this model directory's weights and tokenizer (same shape) instead of a random init. */
      init_from: z.string().optional(),
    })
    .prefault({}),
  train: z
    .strictObject({
      steps: posInt.default(2000),
      batch_size: posInt.default(16),
      lr: z.number().positive().default(3e-3),
      min_lr_ratio: z.number().min(0).max(1).default(0.1),
      warmup_steps: z.int().min(0).default(100),
      weight_decay: z.number().min(0).default(0.1),
      grad_clip: z.number().min(0).default(1),
      checkpoint_every: posInt.default(200),
    })
    .prefault({}),
  eval: z
    .strictObject({
      /** Zero-shot Rouge-L on these tasks goes into the model card (held-out tasks). */
      tasks: z.array(z.string()).default([]),
      test_per_task: posInt.default(50),
      max_new_tokens: posInt.default(32),
    })
    .prefault({}),
});

export type PretrainConfig = z.output<typeof PretrainSchema>;

/** Linear warm-up, then cosine decay to `min_lr_ratio · lr` at the last step. */
export function pretrainLr(step: number, t: PretrainConfig['train']): number {
  if (step < t.warmup_steps) return (t.lr * (step + 1)) / t.warmup_steps;
  const progress = Math.min(1, (step - t.warmup_steps) / Math.max(1, t.steps - t.warmup_steps));
  const min = t.lr * t.min_lr_ratio;
  return min + 0.5 * (t.lr - min) * (1 + Math.cos(Math.PI * progress));
}
