/** fedavg (FedAvg-LoRA / FedIT): every client trains A, B; the server averages both, weighted by examples. */
import { SharedFactorStrategy } from './shared-factors.js';
import type { StrategyFactory } from './strategy.js';

export const fedavg: StrategyFactory = (ctx) => new SharedFactorStrategy('fedavg', ctx, { shared: ['A', 'B'], trainable: ['A', 'B'] });
