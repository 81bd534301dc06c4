/** local: each client trains its own LoRA A, B alone; nothing is sent (docs/method.md). */
import { SharedFactorStrategy } from './shared-factors.js';
import type { StrategyFactory } from './strategy.js';

export const local: StrategyFactory = (ctx) => new SharedFactorStrategy('local', ctx, { shared: [], trainable: ['A', 'B'] });
