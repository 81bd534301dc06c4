/**
 * The checks of a config that need the model's shape, run by `check`, `train` and `sweep` alike.
 * They read only the model's config.json (not its weights), so `check` stays quick:
 *   - every `adapter.targets` entry selects a linear layer of the model;
 *   - `adapter.rank` fits every targeted layer (a rank-r update needs r ≤ min(in, out));
 *   - `data.max_target_tokens` leaves room for a prompt in the model's positions.
 * Each failure is a UsageError naming the file, line and key, with the numbers.
 */
import type { ExperimentConfig } from './schema.js';
import type { YamlSource } from './yaml-source.js';
import { modelInfo } from '../model/families.js';
import { matchesTarget, narrowestBelowRank, targetNames, unmatchedTargets } from '../adapters/config.js';
import { MIN_PROMPT_TOKENS, noRoomForPrompt } from '../data/encode.js';

export function checkAgainstModel(src: YamlSource, config: ExperimentConfig, modelDir: string): void {
  const info = modelInfo(modelDir);
  const layers = info.linears;
  if (config.methods.some((m) => m !== 'base')) {
    const { rank } = config.adapter;
    const targets = config.adapter.targets ?? [];
    const unmatched = unmatchedTargets(layers, targets);
    if (unmatched.length > 0)
      throw src.error(
        ['adapter', 'targets'],
        `${unmatched.map((t) => JSON.stringify(t)).join(', ')} ${unmatched.length > 1 ? 'match' : 'matches'} no linear layer of ${config.model}; valid targets: ${targetNames(layers).join(', ')}`,
      );
    const narrow = narrowestBelowRank(layers.filter((l) => matchesTarget(l.name, targets)), rank);
    if (narrow) {
      const width = Math.min(narrow.inFeatures, narrow.outFeatures);
      throw src.error(
        ['adapter', 'rank'],
        `${rank} is larger than the width of targeted layer ${narrow.name} (in ${narrow.inFeatures}, out ${narrow.outFeatures}: min ${width}); a rank-r adapter needs r ≤ ${width}`,
      );
    }
  }
  const context = info.contextLength;
  if (context - config.data.max_target_tokens - 1 < MIN_PROMPT_TOKENS)
    throw src.error(['data', 'max_target_tokens'], noRoomForPrompt(config.data.max_target_tokens, context).replace(/^data\.max_target_tokens: /, ''));
}
