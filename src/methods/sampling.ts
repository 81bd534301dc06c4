/**
 * Client selection (the sampling half of Flower's configure_fit): which training units take part
 * in a round. Seeded by the run's seed and the round only, so every method of a run sees the
 * same clients in the same round.
 */
import { Rng } from '../util/rng.js';

export function sampleUnits(units: readonly string[], fraction: number, seed: number, round: number): string[] {
  if (fraction >= 1 || units.length <= 1) return [...units];
  const k = Math.max(1, Math.round(fraction * units.length));
  const picked = Rng.derive(seed, 'client-sample', round).sampleIndices(units.length, k).sort((a, b) => a - b);
  return picked.map((i) => units[i]);
}
