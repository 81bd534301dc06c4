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
import { loadGPT2Config } from '../model/config.js';
import { gpt2Linears } from '../model/gpt2.js';
import { matchesTarget, narrowestBelowRank, targetNames, unmatchedTargets } from '../adapters/config.js';
import { MIN_PROMPT_TOKENS, noRoomForPrompt } from '../data/encode.js';

export function checkAgainstModel(src: YamlSource, config: ExperimentConfig, modelDir: string): void {
  const mc = loadGPT2Config(modelDir);
  const layers = gpt2Linears(mc);
  if (config.methods.some((m) => m !== 'base')) {
    const { targets, rank } = config.adapter;
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
  if (mc.nPositions - config.data.max_target_tokens - 1 < MIN_PROMPT_TOKENS)
    throw src.error(['data', 'max_target_tokens'], noRoomForPrompt(config.data.max_target_tokens, mc.nPositions).replace(/^data\.max_target_tokens: /, ''));
}
