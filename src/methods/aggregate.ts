/** The server's averaging rules, shared by the methods. */
import { cloneState, type AdapterState, type TensorName } from '../adapters/state.js';
import type { FitResult } from './strategy.js';

/** Each result's weight: its share of the training examples (FedAvg's rule). */
export function exampleWeights(results: readonly Pick<FitResult, 'numExamples'>[]): number[] {
  const total = results.reduce((s, r) => s + r.numExamples, 0);
  if (total <= 0) throw new Error('weightedAverage: no examples');
  return results.map((r) => r.numExamples / total);
}

/**
 * Weighted average of the named tensors of the uploads (weights = examples), written over a copy
 * of `into` (tensors `into` lacks are skipped, tensors not named are kept).
 */
export function weightedAverage(results: readonly FitResult[], names: readonly TensorName[], into: AdapterState): AdapterState {
  const out = cloneState(into);
  const weights = exampleWeights(results);
  for (const [name, f] of out)
    for (const k of names) {
      const acc = f[k];
      if (!acc) continue;
      acc.fill(0);
      results.forEach((r, i) => {
        const src = r.upload.get(name)?.[k];
        if (!src) throw new Error(`upload of ${r.unit} lacks ${name}.${k}`);
        const w = weights[i];
        for (let j = 0; j < acc.length; j++) acc[j] += w * src[j];
      });
    }
  return out;
}
