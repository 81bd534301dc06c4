/**
 * The compared methods, one strategy each (docs/method.md explains every rule). `base`, the
 * frozen model without adapter, is evaluated but never trained, so it has no strategy.
 */
import { centralized } from './centralized.js';
import { colora } from './colora.js';
import { fedavg } from './fedavg.js';
import { feddpa } from './feddpa.js';
import { fedex } from './fedex.js';
import { fedsa } from './fedsa.js';
import { ffa } from './ffa.js';
import { flexlora } from './flexlora.js';
import { local } from './local.js';
import type { Strategy, StrategyContext, StrategyFactory, TrainedMethod } from './strategy.js';

export const STRATEGIES: Record<TrainedMethod, StrategyFactory> = {
  local,
  fedavg,
  colora,
  ffa,
  centralized,
  fedsa,
  flexlora,
  fedex,
  feddpa,
};

export function createStrategy(method: TrainedMethod, ctx: StrategyContext): Strategy {
  return STRATEGIES[method](ctx);
}
