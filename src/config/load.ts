/**
 * Load an experiment or sweep config exactly as `train`, `sweep` and `check` do: YAML → schema
 * (defaults filled) → cross-field and data checks (task names against `tasks_dir`, task files
 * parse and hold enough instances, the model directory exists; the adapter and lengths fit the
 * model's config.json, model-checks.ts). Every failure is a UsageError naming the file, the line
 * and the key path; a config asking for a lot of work gets warnings (workload.ts).
 */
import { YamlSource, type KeyPath } from './yaml-source.js';
import { validateYaml } from './validate.js';
import { ExperimentSchema, type ExperimentConfig, type ClientSpec, type BackendName } from './schema.js';
import { didYouMean } from './suggest.js';
import { openTaskSource } from '../data/task-source.js';
import { checkTaskSize } from '../data/split.js';
import { resolveModelDir } from '../model/checkpoint.js';
import { familyOf, type ModelFamily } from '../model/families.js';
import { UsageError } from '../util/errors.js';
import { checkAgainstModel } from './model-checks.js';
import { workloadWarnings } from './workload.js';
import { freezesAB } from '../adapters/config.js';

export interface Overrides {
  seed?: number;
  backend?: BackendName;
  tasksDir?: string;
}

export interface LoadedConfig {
  config: ExperimentConfig;
  source: YamlSource;
  /** The resolved model directory. */
  modelDir: string;
  /** Lines for stderr about a config that asks for a lot of work (config/workload.ts). */
  warnings: string[];
}

/** Schema only (no file-system checks): for tests and for tools that only read a config. */
export function parseExperimentConfig(source: YamlSource, overrides: Overrides = {}): ExperimentConfig {
  const config = validateYaml(source, ExperimentSchema);
  if (overrides.seed !== undefined) config.seed = overrides.seed;
  if (overrides.backend !== undefined) config.backend = overrides.backend;
  if (overrides.tasksDir !== undefined) config.data.tasks_dir = overrides.tasksDir;
  checkStructure(source, config);
  return config;
}

export function loadExperimentConfig(file: string, overrides: Overrides = {}): LoadedConfig {
  const source = YamlSource.read(file);
  const config = parseExperimentConfig(source, overrides);
  checkTasks(source, config, overrides.tasksDir !== undefined);
  let modelDir: string;
  let family: ModelFamily;
  try {
    modelDir = resolveModelDir(config.model);
    family = familyOf(modelDir);
  } catch (e) {
    if (e instanceof UsageError) throw source.error(['model'], e.message);
    throw e;
  }
  resolveTargets(source, config, family);
  checkAgainstModel(source, config, modelDir);
  return { config, source, modelDir, warnings: workloadWarnings(config) };
}

/** adapter.targets: the family's PEFT defaults when absent, else each must name a layer of this family. */
function resolveTargets(src: YamlSource, config: ExperimentConfig, family: ModelFamily): void {
  const targets = config.adapter.targets;
  if (!targets) {
    config.adapter.targets = [...family.defaultTargets];
    return;
  }
  targets.forEach((t, i) => {
    if (!family.targetModules.includes(t))
      throw src.error(
        ['adapter', 'targets', i],
        `'${t}' is no linear layer of ${config.model} (a ${family.name}-family model); expected one of ${family.targetModules.join(', ')}, or leave targets out for PEFT's default (${family.defaultTargets.join(', ')})`,
      );
  });
}

/** Every client list in the config, with the key path it sits at. */
export function clientLists(config: ExperimentConfig): { path: KeyPath; clients: ClientSpec[] }[] {
  const lists: { path: KeyPath; clients: ClientSpec[] }[] = [];
  if (config.clients) lists.push({ path: ['clients'], clients: config.clients });
  config.sweep?.groupings.forEach((g, i) => lists.push({ path: ['sweep', 'groupings', i, 'clients'], clients: g.clients }));
  return lists;
}

function checkStructure(src: YamlSource, config: ExperimentConfig): void {
  if (!config.clients && !config.sweep)
    throw src.error([], "needs 'clients' (a list of {name, tasks}) or a 'sweep' section with groupings");
  for (const { path, clients } of clientLists(config)) {
    const seen = new Set<string>();
    clients.forEach((c, i) => {
      if (c.pinned && config.train.distribute !== 'clients')
        throw src.error([...path, i, 'pinned'], "a pinned client trains on its own worker, one update at a time: needs train.distribute: clients");
      if (c.pinned && config.train.client_fraction < 1)
        throw src.error([...path, i, 'pinned'], 'a pinned client is evaluated on its own worker with the last round\'s broadcast to every client: needs train.client_fraction: 1');
      if (c.pinned && config.methods.includes('centralized'))
        throw src.error([...path, i, 'pinned'], "a pinned client's data never leave it, and centralized pools every client's data: drop one of them");
      if (seen.has(c.name)) throw src.error([...path, i, 'name'], `duplicate client name '${c.name}'`);
      seen.add(c.name);
      const tasks = new Set<string>();
      c.tasks.forEach((t, j) => {
        if (tasks.has(t)) throw src.error([...path, i, 'tasks', j], `task '${t}' listed twice for client '${c.name}'`);
        tasks.add(t);
      });
    });
  }
  if (config.sweep) {
    const names = new Set<string>();
    config.sweep.groupings.forEach((g, i) => {
      if (names.has(g.name)) throw src.error(['sweep', 'groupings', i, 'name'], `duplicate grouping name '${g.name}'`);
      names.add(g.name);
    });
    if (new Set(config.sweep.seeds).size !== config.sweep.seeds.length) throw src.error(['sweep', 'seeds'], 'seeds must be distinct');
  }
  const methods = new Set(config.methods);
  if (methods.size !== config.methods.length) throw src.error(['methods'], 'a method is listed twice');
  checkCoLoRA(src, config);
  config.expect.forEach((r, i) => {
    for (const key of ['method', 'better_than'] as const) {
      const m = r[key];
      if (m && !methods.has(m)) throw src.error(['expect', i, key], `method '${m}' is not in methods (${config.methods.join(', ')})`);
    }
    if (r.grouping && config.sweep && !config.sweep.groupings.some((g) => g.name === r.grouping))
      throw src.error(['expect', i, 'grouping'], `no grouping named '${r.grouping}'${didYouMean(r.grouping, config.sweep.groupings.map((g) => g.name))}`);
    const hasMetricRule = r.min !== undefined || r.max !== undefined || r.better_than !== undefined;
    if (!hasMetricRule && !r.no_nan_loss) throw src.error(['expect', i], 'a rule needs min, max, better_than or no_nan_loss');
  });
}

/** CoLoRA's options that cannot work together (docs/method.md, "CoLoRA's options"). */
function checkCoLoRA(src: YamlSource, config: ExperimentConfig): void {
  const kind = config.adapter.kind;
  // SVFit and LoLDU train only their diagonal D: methods that treat A and B differently (ffa, fedsa;
  // their strategies refuse these kinds too) or aggregate the products B_k A_k (flexlora, fedex)
  // have no meaning there.
  const needAB = config.methods.filter((m) => ['ffa', 'fedsa', 'flexlora', 'fedex'].includes(m));
  if (freezesAB(kind) && needAB.length > 0)
    throw src.error(['adapter', 'kind'], `${kind} keeps A and B frozen and trains only its diagonal, so ${needAB.join(', ')} (which treat A and B apart or aggregate B·A) have no meaning with it; use kind lora or pissa, or drop ${needAB.join(', ')}`);
  const c = config.colora;
  if (c.core_init === 'zero' && c.shared_init === 'peft' && config.adapter.kind === 'lora')
    throw src.error(
      ['colora', 'core_init'],
      'zero with shared_init peft (B = 0) can never learn: with S = 0 and B = 0 every factor\'s gradient (Bᵀ G Aᵀ, G Aᵀ Sᵀ, Sᵀ Bᵀ G) is zero; use shared_init: svd, or core_init identity or gaussian',
    );
  if (c.normalize === 'qr' && c.core === 'diagonal')
    throw src.error(['colora', 'normalize'], 'qr needs a full core: R_B S R_A of a diagonal S is not diagonal; use normalize: none with core: diagonal');
  if (c.schedule === 'alternating' && c.core_steps >= config.train.local_steps)
    throw src.error(['colora', 'core_steps'], `${c.core_steps} leaves none of train.local_steps (${config.train.local_steps}) for A and B; expected fewer`);
}

function checkTasks(src: YamlSource, config: ExperimentConfig, tasksDirFromFlag: boolean): void {
  let tasks;
  try {
    tasks = openTaskSource(config.data.tasks_dir);
  } catch (e) {
    if (e instanceof UsageError && !tasksDirFromFlag) throw src.error(['data', 'tasks_dir'], e.message.replace(/^data\.tasks_dir: /, ''));
    throw e;
  }
  const { train_per_task: train, test_per_task: test } = config.data;
  for (const { path, clients } of clientLists(config)) {
    clients.forEach((c, i) =>
      c.tasks.forEach((name, j) => {
        if (!tasks.has(name))
          throw src.error([...path, i, 'tasks', j], `unknown task '${name}' in ${tasks.location}${didYouMean(name, tasks.names())}`);
        checkTaskSize(tasks.load(name, train + test), train, test);
      }),
    );
  }
}
