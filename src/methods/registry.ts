/**
 * The compared methods as settings of one strategy (docs/method.md explains each):
 *   local        each client trains its own A, B alone; nothing is shared
 *   fedavg       A, B trained by every client and averaged each round (FedAvg-LoRA)
 *   colora       A, B averaged each round; each client's r×r S_i is personal (ΔW_i = B S_i A)
 *   ffa          A frozen at its random initialisation, B trained and averaged (FFA-LoRA)
 *   centralized  one LoRA trained on all clients' data pooled (a reference point)
 * (`base`, the frozen model without adapter, is evaluated but never trained.)
 */
import type { MethodName } from '../config/schema.js';

export type { TrainedMethod };
import type { AdapterState } from '../adapters/state.js';
import { FactorStrategy, type FactorStrategyOptions, type Strategy, type TrainingUnit } from './strategy.js';

export interface ClientInfo {
  name: string;
  numExamples: number;
}

type TrainedMethod = Exclude<MethodName, 'base'>;

const SETTINGS: Record<TrainedMethod, FactorStrategyOptions & { pooled: boolean }> = {
  local: { shared: [], trainable: ['A', 'B'], personal: false, pooled: false },
  fedavg: { shared: ['A', 'B'], trainable: ['A', 'B'], personal: false, pooled: false },
  colora: { shared: ['A', 'B'], trainable: ['A', 'B', 'S'], personal: true, pooled: false },
  ffa: { shared: ['A', 'B'], trainable: ['B'], personal: false, pooled: false },
  centralized: { shared: ['A', 'B'], trainable: ['A', 'B'], personal: false, pooled: true },
};

export function methodUsesPersonalFactor(method: TrainedMethod): boolean {
  return SETTINGS[method].personal;
}

export function trainingUnits(method: TrainedMethod, clients: readonly ClientInfo[]): TrainingUnit[] {
  if (SETTINGS[method].pooled)
    return [{ name: 'pooled', members: clients.map((c) => c.name), numExamples: clients.reduce((s, c) => s + c.numExamples, 0) }];
  return clients.map((c) => ({ name: c.name, members: [c.name], numExamples: c.numExamples }));
}

/** `init` must carry S exactly when the method is personal (see initialState). */
export function createStrategy(method: TrainedMethod, clients: readonly ClientInfo[], init: AdapterState): Strategy {
  const s = SETTINGS[method];
  return new FactorStrategy(method, trainingUnits(method, clients), init, s);
}
