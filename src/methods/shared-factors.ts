/**
 * The common machine behind most methods: the server holds the shared factors and averages
 * them (weighted by examples); each training unit keeps everything else it trained (its own
 * copy lives on the client side: `kept`). A method built on it names which factors are shared,
 * which are trained, whether layers carry CoLoRA's S, and whether the data are pooled; a method
 * with another rule overrides `download`, `aggregateFit` or `initialState`.
 */
import { adapterConfigFrom, freezesAB, kindFactors, splitsAB, type AdapterConfig } from '../adapters/config.js';
import { DEFAULT_START, initialAdapterState, type StartOptions } from '../adapters/init.js';
import { applyPayload, cloneState, pick, type AdapterState, type FactorName, type Payload } from '../adapters/state.js';
import { UsageError } from '../util/errors.js';
import type { Snapshot } from '../train/round-checkpoint.js';
import { weightedAverage } from './aggregate.js';
import { sampleUnits } from './sampling.js';
import type { FitInstruction, FitResult, ParameterCounts, Strategy, StrategyContext, TrainedMethod, TrainingUnit } from './strategy.js';

export interface SharedFactorOptions {
  /** Factors the clients send, the server averages and sends back. */
  shared: readonly FactorName[];
  /** Factors the clients train. */
  trainable: readonly FactorName[];
  /** Layers carry CoLoRA's personal r×r S (initialised to I). */
  personal?: boolean;
  /** One training unit on all clients' data (centralized). */
  pooled?: boolean;
  /** Extra layer structure (a frozen residual R, FedDPA's personal LoRA, a diagonal core). */
  layers?: Pick<AdapterConfig, 'residual' | 'dual' | 'core'>;
}

export class SharedFactorStrategy implements Strategy {
  readonly adapterConfig: AdapterConfig;
  readonly units: readonly TrainingUnit[];
  /** The server's state: the shared factors (and anything else the method keeps globally). */
  protected global: AdapterState;
  /** Each unit's own state as it last trained it (client side). */
  protected readonly kept = new Map<string, AdapterState>();
  private readonly unitOf = new Map<string, string>();
  /** The options in the adapter kind's terms (SVFit and LoLDU share and train D where a method names A, B). */
  protected readonly o: SharedFactorOptions;

  constructor(
    readonly name: TrainedMethod,
    protected readonly ctx: StrategyContext,
    options: SharedFactorOptions,
  ) {
    this.adapterConfig = adapterConfigFrom(ctx.adapter, options.personal ?? false, options.layers);
    const kind = this.adapterConfig.kind;
    if (freezesAB(kind) && (splitsAB(options.shared) || splitsAB(options.trainable)))
      throw new UsageError(`adapter.kind: ${kind} keeps A and B frozen and trains only its diagonal, so method ${name} (which treats A and B differently) has no meaning with it; use kind lora or pissa`);
    this.o = { ...options, shared: kindFactors(kind, options.shared), trainable: kindFactors(kind, options.trainable) };
    const o = this.o;
    const clients = ctx.clients;
    this.units = o.pooled
      ? [{ name: 'pooled', members: clients.map((c) => c.name), numExamples: clients.reduce((s, c) => s + c.numExamples, 0) }]
      : clients.map((c) => ({ name: c.name, members: [c.name], numExamples: c.numExamples }));
    const init = this.initialState();
    this.global = cloneState(init);
    for (const u of this.units) {
      this.kept.set(u.name, cloneState(init));
      for (const m of u.members) this.unitOf.set(m, u.name);
    }
  }

  /**
   * Flower's initialize_parameters: the adapter kind's start (lora: PEFT's, A random from the
   * seed, B = 0, S = I; adapters/init.ts for the others).
   */
  protected initialState(): AdapterState {
    return initialAdapterState(this.ctx.layers, this.adapterConfig, this.ctx.seed, this.start(), this.ctx.frozenWeights);
  }

  /** How the shared factors and the core start (CoLoRA's options override it). */
  protected start(): StartOptions {
    return DEFAULT_START;
  }

  sample(round: number): string[] {
    return sampleUnits(this.units.map((u) => u.name), this.ctx.clientFraction, this.ctx.seed, round);
  }

  configureFit(round: number): FitInstruction[] {
    return this.sample(round).map((unit) => ({
      unit,
      download: this.download(unit),
      trainable: this.o.trainable,
      steps: this.ctx.localSteps * this.unit(unit).members.length,
    }));
  }

  /** What the server sends a unit: the current shared factors. */
  protected download(_unit: string): Payload {
    return pick(this.global, this.o.shared);
  }

  /** What a unit sends: its trained shared factors. */
  protected upload(trained: AdapterState): Payload {
    return pick(trained, this.o.shared);
  }

  clientStart(unit: string, download: Payload): AdapterState {
    return applyPayload(this.keptState(unit), download);
  }

  clientUpload(unit: string, trained: AdapterState): Payload {
    this.keptState(unit);
    this.kept.set(unit, cloneState(trained));
    return this.upload(trained);
  }

  aggregateFit(_round: number, results: readonly FitResult[]): void {
    if (this.o.shared.length > 0 && results.length > 0) this.global = weightedAverage(results, this.o.shared, this.global);
  }

  adapterFor(client: string): AdapterState {
    const unit = this.unitOf.get(client);
    if (!unit) throw new Error(`${this.name}: unknown client ${client}`);
    return this.clientStart(unit, this.download(unit));
  }

  parameterCounts(): ParameterCounts {
    let trainable = 0;
    let personal = 0;
    for (const f of this.global.values())
      for (const k of this.o.trainable) {
        const n = f[k]?.length ?? 0;
        trainable += n;
        if (!this.o.pooled && !this.o.shared.includes(k)) personal += n;
      }
    return { trainable, personal };
  }

  snapshot(): Snapshot {
    const units = new Map<string, AdapterState>();
    for (const [k, v] of this.kept) units.set(k, cloneState(v));
    return { global: cloneState(this.global), units };
  }

  restore(s: Snapshot): void {
    this.global = cloneState(s.global);
    for (const [k, v] of s.units) this.kept.set(k, cloneState(v));
  }

  protected unit(name: string): TrainingUnit {
    const u = this.units.find((x) => x.name === name);
    if (!u) throw new Error(`${this.name}: unknown training unit ${name}`);
    return u;
  }

  protected keptState(unit: string): AdapterState {
    const s = this.kept.get(unit);
    if (!s) throw new Error(`${this.name}: unknown training unit ${unit}`);
    return s;
  }
}
