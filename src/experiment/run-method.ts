/**
 * One method on one set of clients, whichever it is (its strategy, methods/registry.ts, decides
 * the start, the clients of each round, what is sent and how it is aggregated): federated rounds (with a checkpoint after each, so a killed
 * run resumes at the next round), the adapters saved per client in PEFT format, then the
 * evaluation of every client on its tasks' test instances.
 */
import type { ExperimentConfig, MethodName } from '../config/schema.js';
import type { ModelSession } from './session.js';
import { resolvedTargets, type AdapterConfig } from '../adapters/config.js';
import { InjectedAdapter, targetedLinears } from '../adapters/inject.js';
import { payloadBytes, type AdapterState, type FactorName, type Payload } from '../adapters/state.js';
import { readFrozenWeights } from '../adapters/init.js';
import { adapterKind } from '../adapters/kinds/registry.js';
import { saveAdapter } from '../adapters/peft-io.js';
import { createStrategy } from '../methods/registry.js';
import type { ClientInfo, FitInstruction, FitResult, Strategy, StrategyContext } from '../methods/strategy.js';
import type { Example } from '../train/batch.js';
import { NonFiniteLossError, trainLocally } from '../train/local-training.js';
import { RunError } from '../util/errors.js';
import { fingerprintOf, trainingInputs, type CellInputs } from './cell-fingerprint.js';
import { learningRateAt } from '../train/optimizer.js';
import { loadRoundCheckpoint, saveRoundCheckpoint } from '../train/round-checkpoint.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { communicationOf, readCommunication, withCommunication, writeCommunication } from './communication.js';
import { evaluateItems, scoreByTask } from './evaluate.js';
import type { ClientPrediction, ResultRow, RoundLog } from './records.js';
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
  /**
   * Run a round's client updates elsewhere (a queue coordinator's workers) instead of one after
   * another here; results in the instructions' order. The unit's kept state must end up in
   * `strategy` as fitUnit would leave it.
   */
  fitRound?: (round: number, instructions: readonly FitInstruction[], strategy: Strategy) => Promise<UnitFit[]>;
  /**
   * Pinned clients (config `pinned: true`, with a queue coordinator): what they kept never reaches
   * this process, so it neither saves their adapters nor evaluates them; `evaluate` sends the last
   * broadcast to the client's own worker and gets its results rows back.
   */
  remoteClients?: { pinned: ReadonlySet<string>; evaluate: (client: string, download: Payload) => Promise<ResultRow[]> };
  /** The cell's inputs (cell-fingerprint.ts): training needs them for its round checkpoints. */
  inputs?: CellInputs;
}

/** Training stopped on a non-finite loss; `stop` is the log.jsonl line that says where. */
export class TrainingStopped extends RunError {
  constructor(message: string, readonly stop: StopLog) {
    super(message);
  }
}

export interface MethodOutcome {
  log: RoundLog[];
  rows: ResultRow[];
  predictions: ClientPrediction[];
  /** Each client's final adapter (absent for `base`), e.g. for subspace similarity. */
  adapters?: { config: AdapterConfig; states: Map<string, AdapterState> };
}

/** One unit's update of one round: what the server aggregates and the round log's line. */
export interface UnitFit {
  result: FitResult;
  log: RoundLog;
}

/**
 * The client side of one round for one unit, a pure function of (what the server sent, what the
 * unit kept from earlier rounds, its data, the seed, the round): start from the download and the
 * kept state, train, keep the result and return the upload. The in-process driver and a queue
 * worker (distributed/update-job.ts) both run updates through this, so they give the same bits.
 */
export async function fitUnit(
  ctx: Pick<MethodRunContext, 'session' | 'config' | 'seed' | 'method' | 'grouping'>,
  adapter: InjectedAdapter,
  strategy: Strategy,
  ins: FitInstruction,
  round: number,
  examples: readonly Example[],
  onStep?: (loss: number) => void,
): Promise<UnitFit> {
  const { config, seed, method } = ctx;
  const t = config.train;
  const t0 = Date.now();
  adapter.load(strategy.clientStart(ins.unit, ins.download));
  const { steps } = ins;
  const firstStep = round * steps;
  let losses: number[];
  try {
    const scales = (factors: readonly FactorName[]) => {
      const m = ins.lrMultipliers;
      return m ? adapter.variableFactors(factors).map((f) => m[f] ?? 1) : undefined;
    };
    losses = await trainLocally(ctx.session.model, adapter.variables(ins.trainable), examples, Rng.derive(seed, 'batches', method, ins.unit, round), {
      lrScales: scales(ins.trainable),
      phases: ins.phases?.map((p) => ({ vars: adapter.variables(p.trainable), steps: p.steps, lrScales: scales(p.trainable) })),
      steps,
      batchSize: t.batch_size,
      lr: t.lr,
      warmupSteps: t.warmup_steps,
      firstStep,
      optimizer: { kind: t.optimizer, betas: t.betas, weightDecay: t.weight_decay, gradClip: t.grad_clip },
      padId: ctx.session.padId,
      where: `method ${method}, client ${ins.unit}, round ${round + 1}${ctx.grouping !== 'default' ? `, grouping ${ctx.grouping}` : ''}, seed ${seed}`,
      onStep,
      // adapter.dropout: masks from the run's seed, method, client, round and step (and layer).
      beforeStep: (s) => adapter.setDropout((layer) => Rng.derive(seed, 'lora-dropout', method, ins.unit, round, s, layer)),
    });
  } catch (e) {
    if (!(e instanceof NonFiniteLossError)) throw e;
    throw new TrainingStopped(e.message, { grouping: ctx.grouping, seed, method, client: ins.unit, round: round + 1, step: e.step, stopped: `non-finite loss (${e.loss})` });
  } finally {
    adapter.setDropout(undefined);
  }
  const upload = strategy.clientUpload(ins.unit, await adapter.read());
  return {
    result: { unit: ins.unit, numExamples: examples.length, upload },
    log: {
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
      bytes_down: payloadBytes(ins.download),
      bytes_up: payloadBytes(upload),
    },
  };
}

/** Each client's name and training-set size (a strategy's units and FedAvg weights). */
export function clientInfos(clients: readonly PreparedClient[]): ClientInfo[] {
  return clients.map((c) => ({ name: c.name, numExamples: c.examples.length }));
}

/** The strategy context a method's strategy is built from (the same on the coordinator and workers). */
export async function strategyContext(ctx: Pick<MethodRunContext, 'session' | 'config' | 'seed'>, clients: readonly ClientInfo[]): Promise<StrategyContext> {
  const { config } = ctx;
  return {
    adapter: config.adapter,
    layers: targetedLinears(ctx.session.model, resolvedTargets(config.adapter)),
    seed: ctx.seed,
    clients: [...clients],
    localSteps: config.train.local_steps,
    clientFraction: config.train.client_fraction,
    colora: config.colora,
    frozenWeights: needsFrozenWeights(config) ? await readFrozenWeights(ctx.session.model, resolvedTargets(config.adapter), `adapter.kind ${config.adapter.kind}`) : undefined,
  };
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
  let progress: Progress | undefined;

  for (let round = start; round < t.rounds; round++) {
    const instructions = strategy.configureFit(round);
    if (!progress) {
      const perRound = instructions.reduce((s, ins) => s + ins.steps, 0);
      progress = new Progress(`${ctx.grouping}/seed ${seed}/${method}`, perRound * t.rounds, { quiet: ctx.quiet });
      progress.tick(resumed ? `resumed after round ${start}` : '', perRound * start);
    }
    const bar = progress;
    const fits = ctx.fitRound
      ? await ctx.fitRound(round, instructions, strategy)
      : await (async () => {
          const out: UnitFit[] = [];
          for (const ins of instructions)
            out.push(await fitUnit(ctx, adapter, strategy, ins, round, examplesOf.get(ins.unit)!, (loss) => bar.tick(`round ${round + 1}/${t.rounds} ${ins.unit} loss ${loss.toFixed(3)}`)));
          return out;
        })();
    if (ctx.fitRound) bar.tick(`round ${round + 1}/${t.rounds}`, instructions.reduce((n, ins) => n + ins.steps, 0));
    const results: FitResult[] = fits.map((f) => f.result);
    log.push(...fits.map((f) => f.log));
    strategy.aggregateFit(round, results);
    const diag = strategy.diagnostics?.(round);
    if (diag) for (const row of log) if (row.round === round + 1 && diag.has(row.client)) Object.assign(row, diag.get(row.client));
    saveRoundCheckpoint(ckptDir, { round, fingerprint: fp, inputs, log, snapshot: strategy.snapshot() });
  }
  progress?.stop();
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
  return { rows: withCommunication(rows, adapters ? readCommunication(ctx.dir) : undefined), predictions };
}

/** The start decomposes the frozen weights: a kind that starts from W, or CoLoRA's `svd` start. */
function needsFrozenWeights(config: ExperimentConfig): boolean {
  return adapterKind(config.adapter.kind).decompose !== undefined || (config.methods.includes('colora') && config.colora.shared_init === 'svd');
}

/** Train a method (unless `base`), save its adapters, and evaluate unless told not to. */
export async function runMethod(ctx: MethodRunContext): Promise<MethodOutcome> {
  const { config, method } = ctx;
  let log: RoundLog[] = [];
  let adapters: EvalAdapters | undefined;
  const pinned = ctx.remoteClients?.pinned ?? new Set<string>();
  let evaluatePinned: ((client: string) => Promise<ResultRow[]>) | undefined;
  if (method !== 'base') {
    const strategy = createStrategy(method, await strategyContext(ctx, clientInfos(ctx.clients)));
    const adapterCfg = strategy.adapterConfig;
    const adapter = new InjectedAdapter(ctx.session.model, adapterCfg, strategy.adapterFor(ctx.clients[0].name));
    try {
      log = await train(ctx, adapter, strategy);
    } finally {
      adapter.remove();
    }
    for (const c of ctx.clients)
      if (!pinned.has(c.name)) saveAdapter(adaptersDir(ctx.dir, c.name), adapterCfg, strategy.adapterFor(c.name), ctx.modelName, ctx.session.family.peft);
    if (pinned.size > 0) {
      // The last broadcast, as configureFit would send it after the last round (client_fraction 1).
      const last = new Map(strategy.configureFit(config.train.rounds).map((ins) => [ins.unit, ins.download]));
      evaluatePinned = (client) => ctx.remoteClients!.evaluate(client, last.get(client)!);
    }
    writeCommunication(ctx.dir, communicationOf(strategy, log, ctx.clients.map((c) => c.name)));
    adapters = { config: adapterCfg, stateFor: (client) => strategy.adapterFor(client) };
  }
  const local = ctx.clients.filter((c) => !pinned.has(c.name));
  const final = adapters && { config: adapters.config, states: new Map(local.map((c) => [c.name, adapters!.stateFor(c.name)])) };
  if (ctx.evaluate === false) return { log, rows: [], predictions: [], adapters: final };
  if (!evaluatePinned) return { log, ...(await evaluateClients(ctx, adapters)), adapters: final };
  const here = await evaluateClients({ ...ctx, clients: local }, adapters);
  const rows: ResultRow[] = [];
  for (const c of ctx.clients)
    rows.push(...(pinned.has(c.name) ? withCommunication(await evaluatePinned(c.name), readCommunication(ctx.dir)) : here.rows.filter((r) => r.client === c.name)));
  return { log, rows, predictions: here.predictions, adapters: final };
}
