/**
 * One method on one set of clients: federated rounds (with a checkpoint after each, so a killed
 * run resumes at the next round), the adapters saved per client in PEFT format, then the
 * evaluation of every client on its tasks' test instances.
 */
import type { ExperimentConfig, MethodName } from '../config/schema.js';
import type { ModelSession } from './session.js';
import { adapterConfigFrom, type AdapterConfig } from '../adapters/config.js';
import { InjectedAdapter, targetedLinears } from '../adapters/inject.js';
import { initialState, type AdapterState } from '../adapters/state.js';
import { saveAdapter } from '../adapters/peft-io.js';
import { createStrategy, methodUsesPersonalFactor } from '../methods/registry.js';
import type { FitResult, Strategy } from '../methods/strategy.js';
import { NonFiniteLossError, trainLocally } from '../train/local-training.js';
import { RunError } from '../util/errors.js';
import { fingerprintOf, trainingInputs, type CellInputs } from './cell-fingerprint.js';
import { learningRateAt } from '../train/optimizer.js';
import { loadRoundCheckpoint, saveRoundCheckpoint } from '../train/round-checkpoint.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { evaluateItems, scoreByTask, type Prediction } from './evaluate.js';
import type { PreparedClient, TestItem } from './prepare-data.js';
import { adaptersDir, checkpointDir, type StopLog } from './run-layout.js';

export interface MethodRunContext {
  /** The frozen model, its tokenizer and special ids (loaded once per process). */
  session: Pick<ModelSession, 'model' | 'family' | 'tokenizer' | 'eosId' | 'stopIds' | 'padId'>;
  /** How adapters name their base model (config.model). */
  modelName: string;
  config: ExperimentConfig;
  seed: number;
  grouping: string;
  method: MethodName;
  clients: PreparedClient[];
  /** Where this method's adapters, checkpoint and log go. */
  dir: string;
  quiet?: boolean;
  evaluate?: boolean;
  /** The cell's inputs (cell-fingerprint.ts): training needs them for its round checkpoints. */
  inputs?: CellInputs;
}

/** Training stopped on a non-finite loss; `stop` is the log.jsonl line that says where. */
export class TrainingStopped extends RunError {
  constructor(message: string, readonly stop: StopLog) {
    super(message);
  }
}

export interface RoundLog {
  grouping: string;
  seed: number;
  method: MethodName;
  round: number;
  client: string;
  steps: number;
  loss_mean: number;
  loss_last: number;
  lr: number;
  seconds: number;
}

export interface ResultRow {
  grouping: string;
  seed: number;
  method: MethodName;
  client: string;
  task: string;
  rougeL: number;
  exact_match: number;
  n_test: number;
}

export type ClientPrediction = Prediction & { grouping: string; seed: number; method: MethodName; client: string };

export interface MethodOutcome {
  log: RoundLog[];
  rows: ResultRow[];
  predictions: ClientPrediction[];
  /** Each client's final adapter (absent for `base`), e.g. for subspace similarity. */
  adapters?: { config: AdapterConfig; states: Map<string, AdapterState> };
}

/** Units sampled in a round: the same draw for every method of a run, so methods see the same clients. */
export function sampleUnits(units: readonly string[], fraction: number, seed: number, round: number): string[] {
  if (fraction >= 1 || units.length <= 1) return [...units];
  const k = Math.max(1, Math.round(fraction * units.length));
  const picked = Rng.derive(seed, 'client-sample', round).sampleIndices(units.length, k).sort((a, b) => a - b);
  return picked.map((i) => units[i]);
}

async function train(ctx: MethodRunContext, adapter: InjectedAdapter, strategy: Strategy): Promise<RoundLog[]> {
  const { config, seed, method } = ctx;
  const t = config.train;
  const ckptDir = checkpointDir(ctx.dir);
  if (!ctx.inputs) throw new Error('runMethod: training needs the cell inputs (ctx.inputs)');
  const inputs = trainingInputs(ctx.inputs);
  const fp = fingerprintOf(inputs);
  const resumed = loadRoundCheckpoint<RoundLog>(ckptDir, fp);
  const log: RoundLog[] = resumed?.log ?? [];
  if (resumed) strategy.restore(resumed.snapshot);
  const start = resumed ? resumed.round + 1 : 0;

  const examplesOf = new Map(strategy.units.map((u) => [u.name, u.members.flatMap((m) => ctx.clients.find((c) => c.name === m)!.examples)]));
  const stepsOf = (unit: string) => t.local_steps * strategy.units.find((u) => u.name === unit)!.members.length;
  const perRound = sampleUnits(strategy.units.map((u) => u.name), t.client_fraction, seed, 0).reduce((s, u) => s + stepsOf(u), 0);
  const progress = new Progress(`${ctx.grouping}/seed ${seed}/${method}`, perRound * t.rounds, { quiet: ctx.quiet });
  progress.tick(resumed ? `resumed after round ${start}` : '', perRound * start);

  for (let round = start; round < t.rounds; round++) {
    const sampled = sampleUnits(strategy.units.map((u) => u.name), t.client_fraction, seed, round);
    const results: FitResult[] = [];
    for (const ins of strategy.configureFit(round, sampled)) {
      const t0 = Date.now();
      adapter.load(ins.state);
      const steps = stepsOf(ins.unit);
      const examples = examplesOf.get(ins.unit)!;
      const firstStep = round * steps;
      let losses: number[];
      try {
        losses = await trainLocally(ctx.session.model, adapter.variables(ins.trainable), examples, Rng.derive(seed, 'batches', method, ins.unit, round), {
          steps,
          batchSize: t.batch_size,
          lr: t.lr,
          warmupSteps: t.warmup_steps,
          firstStep,
          optimizer: { kind: t.optimizer, betas: t.betas, weightDecay: t.weight_decay, gradClip: t.grad_clip },
          padId: ctx.session.padId,
          where: `method ${method}, client ${ins.unit}, round ${round + 1}${ctx.grouping !== 'default' ? `, grouping ${ctx.grouping}` : ''}, seed ${seed}`,
          onStep: (loss) => progress.tick(`round ${round + 1}/${t.rounds} ${ins.unit} loss ${loss.toFixed(3)}`),
        });
      } catch (e) {
        if (!(e instanceof NonFiniteLossError)) throw e;
        throw new TrainingStopped(e.message, { grouping: ctx.grouping, seed, method, client: ins.unit, round: round + 1, step: e.step, stopped: `non-finite loss (${e.loss})` });
      }
      results.push({ unit: ins.unit, numExamples: examples.length, state: await adapter.read() });
      log.push({
        grouping: ctx.grouping,
        seed,
        method,
        round: round + 1,
        client: ins.unit,
        steps,
        loss_mean: losses.reduce((a, b) => a + b, 0) / losses.length,
        loss_last: losses[losses.length - 1],
        lr: learningRateAt(firstStep + steps - 1, t.lr, t.warmup_steps),
        seconds: (Date.now() - t0) / 1000,
      });
    }
    strategy.aggregateFit(round, results);
    saveRoundCheckpoint(ckptDir, { round, fingerprint: fp, inputs, log, snapshot: strategy.snapshot() });
  }
  progress.stop();
  return log;
}

function limitPerTask(items: readonly TestItem[], max: number | undefined): TestItem[] {
  if (max === undefined) return [...items];
  const seen = new Map<string, number>();
  return items.filter((it) => {
    const n = seen.get(it.task) ?? 0;
    seen.set(it.task, n + 1);
    return n < max;
  });
}

/** The adapter (config and per-client state) a method's clients are evaluated with; none for `base`. */
export interface EvalAdapters {
  config: AdapterConfig;
  stateFor(client: string): AdapterState;
  /** Where a client's state came from (a directory), named in errors when it does not fit the model. */
  sourceOf?(client: string): string;
}

/** Evaluate every client on its tasks' test instances (first `eval.max_instances` per task). */
export async function evaluateClients(ctx: MethodRunContext, adapters: EvalAdapters | undefined): Promise<Pick<MethodOutcome, 'rows' | 'predictions'>> {
  const { config, method } = ctx;
  const rows: ResultRow[] = [];
  const predictions: ClientPrediction[] = [];
  const items = ctx.clients.map((c) => limitPerTask(c.tests, config.eval.max_instances));
  const total = items.reduce((s, x) => s + x.length, 0);
  const progress = new Progress(`${ctx.grouping}/seed ${ctx.seed}/${method} eval`, total, { quiet: ctx.quiet });
  const adapter = adapters
    ? new InjectedAdapter(ctx.session.model, adapters.config, adapters.stateFor(ctx.clients[0].name), adapters.sourceOf?.(ctx.clients[0].name))
    : undefined;
  try {
    let before = 0;
    let ticked = 0;
    for (const [i, c] of ctx.clients.entries()) {
      if (adapter && adapters) adapter.load(adapters.stateFor(c.name), adapters.sourceOf?.(c.name));
      const preds = await evaluateItems(ctx.session.model, ctx.session.tokenizer, items[i], {
        maxNewTokens: config.eval.max_new_tokens,
        batchSize: config.eval.batch_size,
        eosId: ctx.session.stopIds,
        onBatch: (done) => {
          progress.tick(c.name, before + done - ticked);
          ticked = before + done;
        },
      });
      before += items[i].length;
      for (const p of preds) predictions.push({ grouping: ctx.grouping, seed: ctx.seed, method, client: c.name, ...p });
      for (const sc of scoreByTask(preds)) rows.push({ grouping: ctx.grouping, seed: ctx.seed, method, client: c.name, ...sc });
    }
  } finally {
    progress.stop();
    adapter?.remove();
  }
  return { rows, predictions };
}

/** Train a method (unless `base`), save its adapters, and evaluate unless told not to. */
export async function runMethod(ctx: MethodRunContext): Promise<MethodOutcome> {
  const { config, method } = ctx;
  let log: RoundLog[] = [];
  let adapters: EvalAdapters | undefined;
  if (method !== 'base') {
    const personal = methodUsesPersonalFactor(method);
    const adapterCfg = adapterConfigFrom(config.adapter, personal);
    const init = initialState(targetedLinears(ctx.session.model, adapterCfg.targets), adapterCfg.rank, personal, ctx.seed);
    const strategy = createStrategy(method, ctx.clients.map((c) => ({ name: c.name, numExamples: c.examples.length })), init);
    const adapter = new InjectedAdapter(ctx.session.model, adapterCfg, init);
    try {
      log = await train(ctx, adapter, strategy);
    } finally {
      adapter.remove();
    }
    for (const c of ctx.clients) saveAdapter(adaptersDir(ctx.dir, c.name), adapterCfg, strategy.adapterFor(c.name), ctx.modelName, ctx.session.family.peft);
    adapters = { config: adapterCfg, stateFor: (client) => strategy.adapterFor(client) };
  }
  const final = adapters && { config: adapters.config, states: new Map(ctx.clients.map((c) => [c.name, adapters!.stateFor(c.name)])) };
  if (ctx.evaluate === false) return { log, rows: [], predictions: [], adapters: final };
  return { log, ...(await evaluateClients(ctx, adapters)), adapters: final };
}
