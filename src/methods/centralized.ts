/**
 * centralized: one LoRA trained on all clients' data pooled (a reference point, not a federated
 * method: the data moved once, no adapter is exchanged); every client is evaluated with it.
 */
import { SharedFactorStrategy } from './shared-factors.js';
import type { StrategyFactory } from './strategy.js';

export const centralized: StrategyFactory = (ctx) =>
  new SharedFactorStrategy('centralized', ctx, { shared: [], trainable: ['A', 'B'], pooled: true });
