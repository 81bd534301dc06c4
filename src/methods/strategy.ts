/**
 * One interface for every compared method, the way Flower's strategies work. A strategy owns
 * its method's whole federated protocol; the training driver (experiment/run-method.ts) only runs
 * what it is told and never asks which method it runs:
 *   - start (Flower's initialize_parameters): the constructor builds the initial adapter state
 *     from the StrategyContext, and `adapterConfig` says what each layer carries (S, R);
 *   - `configureFit` (configure_fit): which training units take part in a round, what the server
 *     sends each of them (`download`), which factors they train and for how many steps;
 *   - client side: `clientStart` turns what was sent plus what the client kept from earlier
 *     rounds into the state it trains; `clientUpload` keeps the client's own parts and returns
 *     what it sends back (`upload`). Whatever is not in a payload never leaves its side;
 *   - `aggregateFit` (aggregate_fit): the server folds the uploads in;
 *   - `adapterFor`: the adapter a client is evaluated with (after a last broadcast).
 * Bytes on the wire are counted from the payloads (adapters/state.ts payloadBytes).
 */
import type { AdapterSpec, CoLoRAConfig, MethodName } from '../config/schema.js';
import type { AdapterConfig } from '../adapters/config.js';
import type { AdapterState, FactorName, Payload } from '../adapters/state.js';
import type { FrozenWeight, LinearInfo } from '../model/linear-delta.js';
import type { Snapshot } from '../train/round-checkpoint.js';

export type TrainedMethod = Exclude<MethodName, 'base'>;

export interface ClientInfo {
  name: string;
  /** Training examples (the FedAvg weight). */
  numExamples: number;
}

/** Everything a strategy may build its start from. */
export interface StrategyContext {
  adapter: AdapterSpec;
  /** The model's targeted linear layers (adapters/inject.ts targetedLinears), in model order. */
  layers: readonly LinearInfo[];
  seed: number;
  clients: readonly ClientInfo[];
  /** Local optimizer steps per client and round. */
  localSteps: number;
  /** Fraction of training units sampled per round. */
  clientFraction: number;
  /** CoLoRA's readings (config `colora:`); absent = the defaults. */
  colora?: CoLoRAConfig;
  /** The targeted layers' frozen weights, present when the start decomposes them (adapter.kind ≠ lora, colora.shared_init svd). */
  frozenWeights?: ReadonlyMap<string, FrozenWeight>;
}

export interface TrainingUnit {
  /** A client's name, or `pooled` for centralized training. */
  name: string;
  /** The clients whose data this unit trains on. */
  members: string[];
  /** Training examples (the FedAvg weight). */
  numExamples: number;
}

export interface FitInstruction {
  unit: string;
  /** What the server sends this unit for the round. */
  download: Payload;
  /** The factors the unit trains. */
  trainable: readonly FactorName[];
  /** Optimizer steps this round. */
  steps: number;
  /**
   * Train in phases instead (CoLoRA's alternating schedule): each phase trains its factors for its
   * steps, with a fresh optimizer; the steps add up to `steps`. Absent: one phase of `trainable`.
   */
  phases?: { trainable: readonly FactorName[]; steps: number }[];
  /** Learning-rate multiplier per factor (absent = 1). */
  lrMultipliers?: Partial<Record<FactorName, number>>;
}

export interface FitResult {
  unit: string;
  numExamples: number;
  /** What the unit sent back (clientUpload). */
  upload: Payload;
}

export interface ParameterCounts {
  /** Values a client trains. */
  trainable: number;
  /** Of those, values that never leave the client. */
  personal: number;
}

export interface Strategy {
  readonly name: TrainedMethod;
  /** What each adapted layer carries (personal S, frozen R); the driver injects this. */
  readonly adapterConfig: AdapterConfig;
  readonly units: readonly TrainingUnit[];
  /** The units that train in `round` (0-based). */
  sample(round: number): string[];
  configureFit(round: number): FitInstruction[];
  /** Client side: the state `unit` trains from, given what the server sent. */
  clientStart(unit: string, download: Payload): AdapterState;
  /** Client side: keep `trained` and return what `unit` sends to the server. */
  clientUpload(unit: string, trained: AdapterState): Payload;
  aggregateFit(round: number, results: readonly FitResult[]): void;
  /** The adapter client `client` is evaluated with. */
  adapterFor(client: string): AdapterState;
  parameterCounts(): ParameterCounts;
  /** Per-unit numbers for log.jsonl after `round` was aggregated (CoLoRA's core diagnostics); optional. */
  diagnostics?(round: number): Map<string, Record<string, number>>;
  /** Everything needed to resume after this round (the server's state and every unit's own). */
  snapshot(): Snapshot;
  restore(s: Snapshot): void;
}

/** A method's constructor: the registry maps each method name to one. */
export type StrategyFactory = (ctx: StrategyContext) => Strategy;
