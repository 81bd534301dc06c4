/**
 * ffa (FFA-LoRA): A frozen at its random initialisation (the same on every client: it comes from
 * the run's seed, so it is never sent); B trained, sent and averaged, which is then exact.
 */
import { SharedFactorStrategy } from './shared-factors.js';
import type { StrategyFactory } from './strategy.js';

export const ffa: StrategyFactory = (ctx) => new SharedFactorStrategy('ffa', ctx, { shared: ['B'], trainable: ['B'] });
