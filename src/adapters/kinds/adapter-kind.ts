/**
 * What an adapter kind is (the registry in kinds/registry.ts lists them): how its factors start
 * and whether A and B train. A kind with a `decompose` start reads the layer's frozen weight W;
 * init.ts then adds the frozen correction that cancels the start's product, so the adapted model
 * starts exactly at the base model.
 */
import type { FrozenWeight } from '../../model/linear-delta.js';
import type { LayerFactors } from '../state.js';

export interface AdapterKindSpec {
  readonly name: string;
  /** A and B stay frozen at the decomposition and only the diagonal D trains (methods that share or train A, B share or train D). */
  readonly freezesAB: boolean;
  /**
   * The layer's starting factors from its frozen weight (absent: PEFT's random A, B = 0).
   * `scale` is alpha/r; `svdSeed` seeds a randomized SVD on large layers.
   */
  readonly decompose?: (w: FrozenWeight, rank: number, scale: number, svdSeed: number) => LayerFactors;
}
