/**
 * The built-in tasks: seeded NI-format generators, the offline default data (`tasks_dir: builtin`).
 * Tasks that mirror a real NI task carry its name and copy its input/output format, so a config
 * switches between real and built-in data by changing only `tasks_dir`.
 */
import { Rng } from '../../util/rng.js';
import { UsageError } from '../../util/errors.js';
import { didYouMean } from '../../config/suggest.js';
import type { NiExample, NiInstance, NiTask } from '../ni-task.js';
import type { BuiltinGroup, BuiltinSpec } from './spec.js';
import { INT_FILTER_TASKS } from './int-filter.js';
import { INT_MAP_TASKS } from './int-map.js';
import { INT_SELECT_TASKS } from './int-select.js';
import { INT_REORDER_TASKS } from './int-reorder.js';
import { NESTED_LIST_TASKS } from './nested-list.js';
import { LIST_SLICE_TASKS } from './list-slice.js';
import { MIXED_LIST_TASKS } from './mixed-list.js';
import { SENTENCE_TASKS } from './sentence.js';
import { CHAR_STRING_TASKS } from './char-string.js';

export type { BuiltinGroup, BuiltinSpec } from './spec.js';

/** Every built-in task, in a fixed order: by family, families in this order. */
const SPECS: readonly BuiltinSpec[] = [
  ...INT_FILTER_TASKS,
  ...INT_MAP_TASKS,
  ...INT_SELECT_TASKS,
  ...INT_REORDER_TASKS,
  ...NESTED_LIST_TASKS,
  ...LIST_SLICE_TASKS,
  ...MIXED_LIST_TASKS,
  ...SENTENCE_TASKS,
  ...CHAR_STRING_TASKS,
];

const BY_NAME = new Map(SPECS.map((s) => [s.name, s]));
if (BY_NAME.size !== SPECS.length) throw new Error('builtin registry: duplicate task name');

export interface BuiltinTaskInfo {
  name: string;
  /** `int-list` (NI group A) or `string` (NI group B). */
  group: BuiltinGroup;
  /** Family of similar tasks, e.g. `int-filter`, `sentence`. */
  family: string;
  /** True when `name` is a real NI task whose format this generator copies. */
  mirrors: boolean;
  description: string;
}

/** All built-in tasks in a stable order (grouped by family). */
export function listBuiltinTasks(): BuiltinTaskInfo[] {
  return SPECS.map(({ name, group, family, mirrors, description }) => ({ name, group, family, mirrors, description }));
}

/** Family labels in registry order. */
export function listBuiltinFamilies(): string[] {
  return [...new Set(SPECS.map((s) => s.family))];
}

export function hasBuiltinTask(name: string): boolean {
  return BY_NAME.has(name);
}

/** The generator behind a name; an unknown name is a UsageError with a suggestion. */
export function builtinSpec(name: string): BuiltinSpec {
  const spec = BY_NAME.get(name);
  if (!spec) throw new UsageError(`unknown built-in task '${name}'${didYouMean(name, [...BY_NAME.keys()])}`);
  return spec;
}

export interface BuiltinTaskOptions {
  /** Number of instances (>= 0). */
  instances: number;
  seed: number;
}

/** Draws per wanted instance before duplicates are allowed (only tiny input spaces get there). */
const MAX_TRIES_PER_INSTANCE = 50;

/**
 * Generate a task. Deterministic in (name, instances, seed); instance k does not depend on how
 * many are asked for, so a longer task extends a shorter one. Positive examples come from their
 * own stream and never repeat an instance input; instances are distinct where the rule's input
 * space allows.
 */
export function builtinTask(name: string, opts: BuiltinTaskOptions): NiTask {
  const spec = builtinSpec(name);
  if (!Number.isInteger(opts.instances) || opts.instances < 0)
    throw new UsageError(`built-in task ${name}: instances must be a non-negative integer, got ${opts.instances}`);
  const seen = new Set<string>();

  const exRng = Rng.derive(opts.seed, 'builtin', name, 'examples');
  const positiveExamples: NiExample[] = [];
  for (let k = 0; k < 2; k++) {
    const draw = k === 1 && spec.edge ? spec.edge : spec.sample;
    let ex = draw(exRng);
    for (let t = 0; t < MAX_TRIES_PER_INSTANCE && seen.has(ex.input); t++) ex = draw(exRng);
    seen.add(ex.input);
    positiveExamples.push({ input: ex.input, output: ex.output });
  }

  const rng = Rng.derive(opts.seed, 'builtin', name, 'instances');
  const instances: NiInstance[] = [];
  let tries = 0;
  while (instances.length < opts.instances) {
    const s = spec.sample(rng);
    tries++;
    const fresh = !seen.has(s.input);
    if (fresh || tries > MAX_TRIES_PER_INSTANCE * (instances.length + 1)) {
      seen.add(s.input);
      instances.push({ id: `${name}-${instances.length}`, input: s.input, output: [s.output] });
    }
  }

  return { name, definition: spec.definition, positiveExamples, negativeExamples: [], instances, source: 'builtin' };
}
