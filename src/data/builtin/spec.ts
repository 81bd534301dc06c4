/**
 * The shape of one built-in task: a seeded rule-based generator of NI-format instances. Each
 * family file (int-filter.ts, sentence.ts, ...) exports a list of these; registry.ts collects them.
 */
import type { Rng } from '../../util/rng.js';

/**
 * Coarse group, after ../shared/natural-instructions/groups.json: `int-list` is group A (integer
 * lists, and the list-slicing tasks NI files with them), `string` is group B (strings, words,
 * sentences, mixed letter/number lists).
 */
export type BuiltinGroup = 'int-list' | 'string';

/** One generated input and the single output the rule gives for it. */
export interface Sample {
  input: string;
  output: string;
}

export interface BuiltinSpec {
  /** The real NI task name when `mirrors`, otherwise `builtin_<what it does>`. */
  name: string;
  group: BuiltinGroup;
  /** Fine-grained family of similar tasks (e.g. `int-filter`), for building similar/dissimilar mixes. */
  family: string;
  /** True when the task copies the input/output format of the real NI task of the same name. */
  mirrors: boolean;
  /** One line for tables and `data inspect`. */
  description: string;
  /** The NI `Definition` (task instruction). */
  definition: string;
  /** Draw one input and compute its output by the rule. */
  sample(rng: Rng): Sample;
  /** An edge case (e.g. every element removed), shown as the second positive example. */
  edge?(rng: Rng): Sample;
}
