/**
 * fedsa (FedSA-LoRA, Guo et al., ICLR 2025): every client trains A and B; only A is sent and
 * averaged (A learns what is common), B stays on its client (what is personal).
 */
import { SharedFactorStrategy } from './shared-factors.js';
import type { StrategyFactory } from './strategy.js';

export const fedsa: StrategyFactory = (ctx) => new SharedFactorStrategy('fedsa', ctx, { shared: ['A'], trainable: ['A', 'B'] });
