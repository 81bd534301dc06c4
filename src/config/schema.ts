/**
 * The experiment / sweep config schema (contract: ../shared/spec/contract.md, "Configs").
 * Keys are snake_case; every object is strict, so an unknown key is an error with a suggestion.
 * Defaults are filled here, so `config.resolved.yaml` shows every value a run used.
 */
import { z } from 'zod';
import { allTargetModules } from '../model/families.js';
import { ADAPTER_KINDS } from '../adapters/kinds/registry.js';

/** `base` is the frozen model without an adapter (zero-shot), evaluated for reference. */
export const METHODS = ['base', 'local', 'fedavg', 'colora', 'centralized', 'ffa', 'fedsa', 'flexlora', 'fedex', 'feddpa'] as const;
export type MethodName = (typeof METHODS)[number];

/** Every family's target modules (model/families.ts); which of them fit the model is checked once it is known (load.ts). */
export const TARGET_MODULES = allTargetModules() as [string, ...string[]];

export const BACKENDS = ['auto', 'cpu', 'tfjs-cpu', 'wasm', 'webgpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKENDS)[number];

const posInt = z.int().positive();
const nonNegInt = z.int().min(0);

export const ClientSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected a name of letters, digits, _ . -'),
  tasks: z.array(z.string().min(1)).min(1),
  /**
   * The client runs its own worker (`colora worker --client NAME`): with `train.distribute:
   * clients` and `--queue`, its updates and evaluation run there, on its data, and its personal
   * factors stay there (docs/distributed.md). Without --queue it changes nothing.
   */
  pinned: z.boolean().optional(),
});
export type ClientSpec = z.output<typeof ClientSchema>;

export const PromptSchema = z.strictObject({
  definition: z.boolean().default(true),
  positive_examples: nonNegInt.max(10).default(0),
});

export const DataSchema = z.strictObject({
  tasks_dir: z.string().min(1).default('builtin'),
  train_per_task: posInt.default(64),
  test_per_task: posInt.default(50),
  prompt: PromptSchema.prefault({}),
  max_source_tokens: posInt.default(256),
  max_target_tokens: posInt.default(32),
});

export const AdapterSchema = z.strictObject({
  rank: posInt.max(1024).default(8),
  alpha: z.number().positive().default(16),
  /** Absent: the model family's PEFT defaults, filled in by loadExperimentConfig. */
  targets: z.array(z.enum(TARGET_MODULES)).min(1).optional(),
  dropout: z.number().min(0).max(0.9).default(0),
  /** lora | pissa | svfit | loldu (src/adapters/config.ts, docs/method.md). */
  kind: z.enum(ADAPTER_KINDS).default('lora'),
});

/** CoLoRA's readings (docs/method.md, "CoLoRA's options"); the defaults are the original reading. */
export const CoLoRASchema = z.strictObject({
  core: z.enum(['full', 'diagonal']).default('full'),
  core_init: z.enum(['identity', 'gaussian', 'zero']).default('identity'),
  /** σ of the gaussian core (LoRA-XS: 1e-5). */
  core_sigma: z.number().positive().default(1e-5),
  shared_init: z.enum(['peft', 'svd']).default('peft'),
  core_lr_multiplier: z.number().positive().default(1),
  schedule: z.enum(['joint', 'alternating']).default('joint'),
  /** With schedule alternating: local steps on S_i alone at the start of each round. */
  core_steps: posInt.default(1),
  normalize: z.enum(['none', 'qr']).default('none'),
});

export const TrainSchema = z.strictObject({
  rounds: posInt.default(10),
  local_steps: posInt.default(10),
  batch_size: posInt.default(8),
  lr: z.number().positive().default(1e-3),
  optimizer: z.enum(['adamw', 'schedule_free_adamw']).default('adamw'),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
  weight_decay: z.number().min(0).default(0),
  warmup_steps: nonNegInt.default(0),
  grad_clip: z.number().min(0).default(1.0),
  client_fraction: z.number().gt(0).max(1).default(1),
  /**
   * With `colora sweep --queue`: `none` runs each cell on one worker; `clients` runs each round's
   * client updates as jobs on the workers and aggregates them in the coordinator (same numbers).
   */
  distribute: z.enum(['none', 'clients']).default('none'),
});

export const EvalSchema = z.strictObject({
  max_new_tokens: posInt.default(32),
  batch_size: posInt.default(16),
  max_instances: posInt.optional(),
});

/** One `expect:` rule (checked after a sweep / smoke run; a failure exits 3). */
export const ExpectRuleSchema = z.strictObject({
  metric: z.enum(['rougeL', 'exact_match']).optional(),
  method: z.enum(METHODS).optional(),
  grouping: z.string().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  better_than: z.enum(METHODS).optional(),
  margin: z.number().default(0),
  no_nan_loss: z.boolean().optional(),
});
export type ExpectRule = z.output<typeof ExpectRuleSchema>;

export const GroupingSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected a name of letters, digits, _ . -'),
  clients: z.array(ClientSchema).min(1),
});
export type Grouping = z.output<typeof GroupingSchema>;

export const SweepSchema = z.strictObject({
  groupings: z.array(GroupingSchema).min(1),
  seeds: z.array(nonNegInt).min(1).default([0]),
});

export const ExperimentSchema = z.strictObject({
  name: z.string().min(1).default('colora-run'),
  seed: nonNegInt.default(0),
  model: z.string().min(1).default('builtin:tiny-ni'),
  backend: z.enum(BACKENDS).default('auto'),
  data: DataSchema.prefault({}),
  clients: z.array(ClientSchema).min(1).optional(),
  adapter: AdapterSchema.prefault({}),
  methods: z.array(z.enum(METHODS)).min(1).default(['local', 'fedavg', 'colora']),
  colora: CoLoRASchema.prefault({}),
  train: TrainSchema.prefault({}),
  eval: EvalSchema.prefault({}),
  sweep: SweepSchema.optional(),
  expect: z.array(ExpectRuleSchema).default([]),
});

export type ExperimentConfig = z.output<typeof ExperimentSchema>;
export type DataConfig = ExperimentConfig['data'];
export type AdapterSpec = ExperimentConfig['adapter'];
export type CoLoRAConfig = ExperimentConfig['colora'];
export type TrainConfig = ExperimentConfig['train'];
export type EvalConfig = ExperimentConfig['eval'];
export type SweepConfig = NonNullable<ExperimentConfig['sweep']>;
