/**
 * colora: A, B trained by every client and averaged by the server; each client's r×r S_i
 * (ΔW_i = (alpha/r) B S_i A, S_i = I at the start) is trained too and never sent.
 */
import { SharedFactorStrategy } from './shared-factors.js';
import type { StrategyFactory } from './strategy.js';

export const colora: StrategyFactory = (ctx) =>
  new SharedFactorStrategy('colora', ctx, { shared: ['A', 'B'], trainable: ['A', 'B', 'S'], personal: true });
