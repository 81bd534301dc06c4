/**
 * The report's figures, each as plots/<name>.svg and .png (chart.ts renders them):
 *  - partner-groups_<task>: one task's Rouge-L trained with different partner groups vs trained
 *    alone (the paper's Figure 2); drawn for every task that every grouping holds;
 *  - score-vs-similarity: mean Rouge-L per method against the measured task similarity of each
 *    grouping (Figure 3), and gain-vs-similarity: the same minus local LoRA of the same seed;
 *  - colora-minus-baselines: CoLoRA minus each baseline per grouping (Figure 4);
 *  - subspace-similarity: column-subspace similarity of client updates per layer, similar vs
 *    dissimilar client pairs, per method (Figure 5);
 *  - training-loss: mean training loss per round per method, one panel per grouping;
 *  - colora-core: CoLoRA's core diagnostics per round and client (how far S_i moved, cond(S_i),
 *    the personal share of the update), from log.jsonl.
 * A figure whose data is missing is skipped with a one-line reason, which the summary prints.
 */
import { join } from 'node:path';
import { errorBarChart, lineChart, renderChart, type ChartSpec } from './chart.js';
import { mean, std } from './stats.js';
import type { RunData } from './run-data.js';

export interface Figure {
  name: string;
  caption: string;
}

export interface PlotsOutcome {
  figures: Figure[];
  /** One line per figure that was not drawn, saying why. */
  skipped: string[];
}

/** Task pairs at or above this measured similarity count as "similar" in the subspace figure. */
export const SIMILAR_PAIR_THRESHOLD = 0.5;

export const METHOD_LABELS: Record<string, string> = {
  base: 'base model (zero-shot)',
  local: 'local LoRA (trained alone)',
  fedavg: 'FedAvg-LoRA',
  colora: 'CoLoRA',
  centralized: 'centralized LoRA',
  ffa: 'FFA-LoRA',
  fedsa: 'FedSA-LoRA',
  flexlora: 'FlexLoRA',
  fedex: 'FedEx-LoRA',
  feddpa: 'FedDPA',
};
const label = (m: string) => METHOD_LABELS[m] ?? m;

type Row = Record<string, string | number | null>;

/** One colour per method in every figure (Tableau 10), so a method reads the same across charts. */
const METHOD_COLORS: Record<string, string> = {
  base: '#9d9da1',
  local: '#f58518',
  fedavg: '#4c78a8',
  colora: '#e45756',
  centralized: '#54a24b',
  ffa: '#b279a2',
  fedsa: '#72b7b2',
  flexlora: '#eeca3b',
  fedex: '#ff9da6',
  feddpa: '#9d755d',
};

/** Pin the colour scale of every `method`/`baseline` colour encoding in `spec` to METHOD_COLORS (only the methods in its data). */
function methodColors(spec: ChartSpec): ChartSpec {
  const values = ((spec as { data?: { values?: Row[] } }).data?.values ?? []) as Row[];
  const visit = (o: unknown): void => {
    if (!o || typeof o !== 'object') return;
    const rec = o as Record<string, unknown>;
    const color = (rec.encoding as Record<string, unknown> | undefined)?.color as Record<string, unknown> | undefined;
    if (color && (color.field === 'method' || color.field === 'baseline')) {
      const shown = new Set(values.map((r) => r[color.field as string]));
      const ms = Object.keys(METHOD_COLORS).filter((m) => shown.has(label(m)));
      color.scale = { domain: ms.map(label), range: ms.map((m) => METHOD_COLORS[m]) };
    }
    for (const v of Object.values(rec)) if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') visit(v);
  };
  visit(spec);
  return spec;
}

interface Stat {
  mean: number;
  std: number;
  lo: number;
  hi: number;
}

function stat(xs: readonly number[]): Stat {
  const m = mean(xs);
  const s = std(xs);
  return { mean: m, std: s, lo: m - s, hi: m + s };
}

const r2 = (x: number) => Math.round(x * 100) / 100;

function uniq<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** Per seed: the mean Rouge-L over the selected rows; then mean ± std over seeds. */
function seedStat(d: RunData, pick: (r: RunData['results'][number]) => boolean): Stat | undefined {
  const sel = d.results.filter(pick);
  if (!sel.length) return undefined;
  return stat(uniq(sel.map((r) => r.seed)).map((s) => mean(sel.filter((r) => r.seed === s).map((r) => r.rougeL))));
}

function setupLine(d: RunData): string {
  const c = d.config;
  const seeds = d.seeds.length;
  return `${c.model}, tasks ${c.data.tasks_dir}; rank ${c.adapter.rank}, ${c.train.rounds} rounds × ${c.train.local_steps} steps; ${c.data.train_per_task} train / ${c.data.test_per_task} test per task; ${seeds} seed${seeds > 1 ? 's' : ''}`;
}

function spreadNote(d: RunData): string {
  return d.seeds.length > 1 ? `bars: ± 1 std over ${d.seeds.length} seeds` : 'one seed: no spread';
}

/** Set the chart's title with a subtitle of several lines (long setups stay readable and the chart narrow). */
function titled<T>(spec: T, title: string, subtitle: string[]): T {
  return { ...spec, title: { text: title, subtitle } };
}

/** Grouped bars (one per `color` value inside each `x` category) with error bars from `yLo` to `yHi`. */
export function groupedBarChart(o: {
  title: string;
  subtitle: string[];
  data: Row[];
  x: { field: string; title: string };
  y: { field: string; title: string };
  yLo: string;
  yHi: string;
  color: { field: string; title: string };
  zeroRule?: boolean;
}): ChartSpec {
  const xs = uniq(o.data.map((r) => r[o.x.field]));
  const colors = uniq(o.data.map((r) => r[o.color.field]));
  const long = xs.some((x) => String(x).length > 12);
  const x = { field: o.x.field, type: 'nominal', title: o.x.title, sort: xs, axis: long ? { labelAngle: -30, labelAlign: 'right' } : { labelAngle: 0 } };
  const y = { field: o.y.field, type: 'quantitative', title: o.y.title };
  const layer: Record<string, unknown>[] = [
    { mark: { type: 'bar' }, encoding: { x, y, xOffset: { field: o.color.field, sort: colors }, color: { field: o.color.field, type: 'nominal', title: o.color.title, sort: colors } } },
    { mark: { type: 'rule', strokeWidth: 1.5, color: 'black' }, encoding: { x, xOffset: { field: o.color.field, sort: colors }, y: { ...y, field: o.yLo }, y2: { field: o.yHi } } },
  ];
  if (o.zeroRule) layer.push({ data: { values: [{}] }, mark: { type: 'rule', color: '#555', strokeDash: [4, 3] }, encoding: { y: { datum: 0 } } });
  return {
    title: { text: o.title, subtitle: o.subtitle },
    data: { values: o.data },
    width: Math.max(240, xs.length * Math.max(60, colors.length * 18)),
    height: 240,
    layer,
  } as unknown as ChartSpec;
}

/** Wrap a single-view spec into panels by `field`, `columns` per row. */
function wrapPanels(spec: ChartSpec, field: string, title: string, order: readonly string[], columns = 3): ChartSpec {
  const { title: t, data, ...unit } = spec as unknown as Record<string, unknown>;
  return { title: t, data, facet: { field, type: 'nominal', title, sort: order, header: { labelFontSize: 12 } }, columns, spec: unit } as unknown as ChartSpec;
}

/** Tasks held by some client of every grouping (needs at least two groupings). */
export function focusTasks(d: RunData): string[] {
  if (d.groupings.length < 2) return [];
  const sets = d.groupings.map((g) => new Set(g.clients.flatMap((c) => c.tasks)));
  return [...sets[0]].filter((t) => sets.every((s) => s.has(t)));
}

/** Mean measured similarity between the clients holding `task` and the other clients of a grouping. */
function partnerSimilarity(d: RunData, grouping: string, task: string): number | undefined {
  const g = d.groupings.find((x) => x.name === grouping)!;
  const holders = new Set(g.clients.filter((c) => c.tasks.includes(task)).map((c) => c.name));
  const pairs = (d.taskSimilarity.get(grouping)?.pairs ?? []).filter((p) => holders.has(p.a) !== holders.has(p.b));
  return pairs.length ? mean(pairs.map((p) => p.value)) : undefined;
}

function partnerGroups(d: RunData, task: string): ChartSpec | undefined {
  const data: Row[] = [];
  for (const g of d.groupings) {
    const sim = partnerSimilarity(d, g.name, task);
    const x = sim === undefined ? g.name : `${g.name} (${sim.toFixed(2)})`;
    for (const m of d.config.methods) {
      const s = seedStat(d, (r) => r.grouping === g.name && r.method === m && r.task === task);
      if (s) data.push({ grouping: x, method: label(m), rougeL: r2(s.mean), lo: r2(s.lo), hi: r2(s.hi) });
    }
  }
  if (uniq(data.map((r) => r.grouping)).length < 2) return undefined;
  return groupedBarChart({
    title: `${task}: trained with different partner groups vs trained alone`,
    subtitle: [setupLine(d), `${spreadNote(d)}; in parentheses: measured task similarity to the partners (mean)`],
    data,
    x: { field: 'grouping', title: 'partner group (grouping)' },
    y: { field: 'rougeL', title: `Rouge-L on ${task} (×100)` },
    yLo: 'lo',
    yHi: 'hi',
    color: { field: 'method', title: 'method' },
  });
}

/** Per seed: a method's mean Rouge-L in a grouping, minus the same seed's `relativeTo` mean when given. */
function perSeed(d: RunData, grouping: string, method: string, relativeTo?: string): number[] {
  const out: number[] = [];
  for (const seed of d.seeds) {
    const m = seedStat(d, (r) => r.grouping === grouping && r.seed === seed && r.method === method);
    const ref = relativeTo === undefined ? undefined : seedStat(d, (r) => r.grouping === grouping && r.seed === seed && r.method === relativeTo);
    if (m && (relativeTo === undefined || ref)) out.push(m.mean - (ref?.mean ?? 0));
  }
  return out;
}

/**
 * Figure 3: per method, mean Rouge-L (or, with `gain`, its difference to local LoRA of the same
 * seed: the benefit of training together) against the grouping's measured task similarity.
 */
function scoreVsSimilarity(d: RunData, gain: boolean): ChartSpec | string {
  const sims = d.groupings.map((g) => ({ grouping: g.name, sim: d.taskSimilarity.get(g.name)?.mean ?? NaN }));
  const known = sims.filter((s) => Number.isFinite(s.sim));
  if (known.length < 2) return d.taskSimilarity.size === 0 ? 'the task similarity of the groupings could not be measured' : 'needs at least two groupings of two or more clients';
  if (gain && !d.config.methods.includes('local')) return 'local LoRA is not among the methods';
  const methods = d.config.methods.filter((m) => !gain || (m !== 'local' && m !== 'base'));
  if (!methods.length) return 'no collaborative method among the methods';
  const data: Row[] = [];
  for (const { grouping, sim } of known)
    for (const m of methods) {
      const xs = perSeed(d, grouping, m, gain ? 'local' : undefined);
      if (!xs.length) continue;
      const s = stat(xs);
      data.push({ similarity: Math.round(sim * 1000) / 1000, grouping, method: label(m), rougeL: r2(s.mean), lo: r2(s.lo), hi: r2(s.hi) });
    }
  if (uniq(data.map((r) => r.grouping)).length < 2) return 'needs results for at least two groupings';
  data.sort((a, b) => Number(a.similarity) - Number(b.similarity));
  const spec = errorBarChart({
    title: '',
    data,
    x: { field: 'similarity', title: 'task similarity of the grouping (mean pairwise, 0–1)' },
    y: { field: 'rougeL', title: gain ? 'Δ Rouge-L vs local LoRA (×100 points)' : 'mean Rouge-L over clients (×100)' },
    yLo: 'lo',
    yHi: 'hi',
    color: { field: 'method', title: 'method' },
  }) as unknown as { layer: Record<string, unknown>[] };
  // Ticks at the groupings' similarities, labelled with their names.
  const ticks = uniq(data.map((r) => Number(r.similarity)));
  const names = ticks.map((t) => `${data.find((r) => r.similarity === t)!.grouping} (${t.toFixed(2)})`);
  const labelExpr = ticks.reduceRight((acc, t, i) => `datum.value == ${t} ? ${JSON.stringify(names[i])} : ${acc}`, "''");
  for (const l of spec.layer) {
    const enc = l.encoding as { x: Record<string, unknown> };
    enc.x = { ...enc.x, axis: { values: ticks, labelExpr, labelAngle: -30, labelAlign: 'right', labelOverlap: false } };
  }
  if (gain) spec.layer.push({ data: { values: [{}] }, mark: { type: 'rule', color: '#555', strokeDash: [4, 3] }, encoding: { y: { datum: 0 } } });
  return titled(
    spec as unknown as ChartSpec,
    gain ? 'Gain from training together: Rouge-L minus local LoRA vs measured task similarity' : 'Mean Rouge-L per method vs measured task similarity of the grouping',
    [setupLine(d), `${gain ? 'difference of per-seed means over all clients; ' : ''}${spreadNote(d)}; x ticks: groupings`],
  );
}

function coloraMinusBaselines(d: RunData): ChartSpec | string {
  if (!d.config.methods.includes('colora')) return 'CoLoRA is not among the methods';
  const baselines = d.config.methods.filter((m) => m !== 'colora');
  if (!baselines.length) return 'no baseline among the methods';
  const data: Row[] = [];
  for (const g of d.groupings)
    for (const b of baselines) {
      const diffs: number[] = [];
      for (const seed of d.seeds) {
        const c = seedStat(d, (r) => r.grouping === g.name && r.seed === seed && r.method === 'colora');
        const o = seedStat(d, (r) => r.grouping === g.name && r.seed === seed && r.method === b);
        if (c && o) diffs.push(c.mean - o.mean);
      }
      if (!diffs.length) continue;
      const s = stat(diffs);
      data.push({ grouping: g.name, baseline: label(b), delta: r2(s.mean), lo: r2(s.lo), hi: r2(s.hi) });
    }
  if (!data.length) return 'no grouping has results for CoLoRA and a baseline';
  return groupedBarChart({
    title: 'CoLoRA minus each baseline, per grouping',
    subtitle: [setupLine(d), `difference of per-seed means; ${spreadNote(d)}`],
    data,
    x: { field: 'grouping', title: 'grouping (experiment)' },
    y: { field: 'delta', title: 'Δ Rouge-L, CoLoRA − baseline (×100 points)' },
    yLo: 'lo',
    yHi: 'hi',
    color: { field: 'baseline', title: 'baseline' },
    zeroRule: true,
  });
}

function subspaceSimilarity(d: RunData): ChartSpec | string {
  if (!d.subspace.length) return 'no similarity.csv rows (needs a method with adapters and a grouping of two or more clients)';
  const k = Math.max(...d.subspace.map((r) => r.k));
  const pairSim = new Map<string, number>();
  for (const [g, s] of d.taskSimilarity) for (const p of s.pairs) pairSim.set(`${g}\u0000${p.a}\u0000${p.b}`, p.value);
  const classOf = (r: RunData['subspace'][number]): string => {
    const v = pairSim.get(`${r.grouping}\u0000${r.client_a}\u0000${r.client_b}`);
    if (v === undefined) return `grouping ${r.grouping}`;
    return v >= SIMILAR_PAIR_THRESHOLD ? `similar tasks (≥ ${SIMILAR_PAIR_THRESHOLD})` : `dissimilar tasks (< ${SIMILAR_PAIR_THRESHOLD})`;
  };
  const layers = uniq(d.subspace.map((r) => r.layer));
  // One targeted module: label layers by block and name the module in the axis title.
  const modules = uniq(layers.map((l) => l.replace(/^h\.\d+\./, '')));
  const short = (l: string) => (modules.length === 1 ? l.replace(/^h\.(\d+)\..*$/, '$1') : l.replace(/^h\./, ''));
  const methods = d.config.methods.filter((m) => d.subspace.some((r) => r.method === m));
  const rows = d.subspace.filter((r) => r.k === k);
  const classes = uniq(rows.map(classOf)).sort();
  const data: Row[] = [];
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  for (const m of methods)
    for (const cls of classes)
      for (const layer of layers) {
        const vs = rows.filter((r) => r.method === m && r.layer === layer && classOf(r) === cls).map((r) => r.value);
        if (!vs.length) continue;
        const s = stat(vs);
        data.push({ layer: short(layer), pairs: cls, method: label(m), value: r3(s.mean), lo: r3(s.lo), hi: r3(s.hi) });
      }
  const spec = errorBarChart({
    title: '',
    data,
    x: { field: 'layer', title: modules.length === 1 ? `block (${modules[0]})` : 'block.module', type: 'ordinal' },
    y: { field: 'value', title: 'subspace similarity (0–1)' },
    yLo: 'lo',
    yHi: 'hi',
    color: { field: 'pairs', title: 'client pairs' },
    column: { field: 'method', title: 'method' },
    width: Math.max(140, layers.length * (modules.length === 1 ? 30 : 45)),
  });
  return titled(spec, `Column-subspace similarity of client updates per layer (top-${k} left singular vectors)`, [
    `‖U_iᵀU_j‖²_F / ${k}: 1 = same column space, 0 = orthogonal; pairs classed by measured task similarity; bars: ± 1 std over pairs and seeds`,
    setupLine(d),
  ]);
}

function trainingLoss(d: RunData): ChartSpec | string {
  if (!d.log.length) return 'log.jsonl holds no training rounds';
  const groupings = d.groupings.map((g) => g.name).filter((g) => d.log.some((l) => l.grouping === g));
  const data: Row[] = [];
  for (const g of groupings)
    for (const m of d.config.methods) {
      const sel = d.log.filter((l) => l.grouping === g && l.method === m);
      for (const round of uniq(sel.map((l) => l.round)).sort((a, b) => a - b)) {
        const perSeed = uniq(sel.map((l) => l.seed)).map((s) => mean(sel.filter((l) => l.seed === s && l.round === round).map((l) => l.loss_mean))).filter(Number.isFinite);
        if (perSeed.length) data.push({ grouping: g, method: label(m), round, loss: Math.round(mean(perSeed) * 1e4) / 1e4 });
      }
    }
  const spec = titled(
    lineChart({
      title: '',
      data,
      x: { field: 'round', title: 'round', type: 'ordinal' },
      y: { field: 'loss', title: 'training loss (nats/token)' },
      color: { field: 'method', title: 'method' },
      width: 260,
      height: 180,
    }),
    'Training loss per round',
    [`cross-entropy per target token, mean over the round's local steps and clients, then over seeds`, setupLine(d)],
  );
  return groupings.length > 1 ? wrapPanels(spec, 'grouping', 'grouping', groupings) : spec;
}

const CORE_METRICS = [
  ['core_change', '‖S_i − S_i(0)‖ / ‖S_i(0)‖'],
  ['core_cond', 'cond(S_i), max over layers'],
  ['personal_share', 'personal share of ‖ΔW_i‖'],
] as const;

function coloraCore(d: RunData): ChartSpec | string {
  const sel = d.log.filter((l) => l.method === 'colora' && l.core_change !== undefined);
  if (!sel.length) return 'log.jsonl holds no CoLoRA core diagnostics (no colora rounds, or a run from before they were logged)';
  const groupings = uniq(sel.map((l) => l.grouping));
  const data: Row[] = [];
  for (const g of groupings)
    for (const client of uniq(sel.filter((l) => l.grouping === g).map((l) => l.client)))
      for (const round of uniq(sel.map((l) => l.round)).sort((a, b) => a - b)) {
        const rows = sel.filter((l) => l.grouping === g && l.client === client && l.round === round);
        if (!rows.length) continue;
        for (const [key, title] of CORE_METRICS) {
          const v = rows.map((l) => l[key]!).filter(Number.isFinite);
          if (v.length) data.push({ series: groupings.length > 1 ? `${g}/${client}` : client, round, metric: title, value: Math.round(mean(v) * 1e5) / 1e5 });
        }
      }
  const spec = lineChart({
    title: '',
    data,
    x: { field: 'round', title: 'round', type: 'ordinal' },
    y: { field: 'value', title: '' },
    color: { field: 'series', title: groupings.length > 1 ? 'grouping/client' : 'client' },
    column: { field: 'metric', title: '' },
    width: 220,
    height: 180,
  }) as unknown as Record<string, unknown>;
  spec.resolve = { scale: { y: 'independent' } };
  return titled(spec as unknown as ChartSpec, "CoLoRA's personal cores per round", [
    `after each round's aggregation; mean over seeds; personal share = ‖B (S_i − S̄) A‖_F / ‖ΔW_i‖_F with S̄ the clients' mean core (docs/method.md)`,
    setupLine(d),
  ]);
}

/** Draw every figure the data allows into `dir`. */
export async function writePlots(d: RunData, dir: string): Promise<PlotsOutcome> {
  const figures: Figure[] = [];
  const skipped: string[] = [];
  const draw = async (name: string, caption: string, spec: ChartSpec | string | undefined, why?: string) => {
    if (spec === undefined || typeof spec === 'string') {
      skipped.push(`${caption} (\`${name}\`): skipped, ${spec ?? why}.`);
      return;
    }
    await renderChart(methodColors(spec), join(dir, name));
    figures.push({ name, caption });
  };
  const focus = focusTasks(d);
  if (!focus.length) skipped.push('Partner groups (Figure 2): skipped, no task is held by every grouping (needs at least two groupings sharing a task).');
  for (const t of focus) await draw(`partner-groups_${t}`, `${t} with different partner groups vs trained alone (Figure 2)`, partnerGroups(d, t), 'no results for this task in two groupings');
  await draw('score-vs-similarity', 'Mean Rouge-L vs measured task similarity (Figure 3)', scoreVsSimilarity(d, false));
  await draw('gain-vs-similarity', 'Gain over local LoRA vs measured task similarity (Figure 3, relative to training alone)', scoreVsSimilarity(d, true));
  await draw('colora-minus-baselines', 'CoLoRA minus each baseline per grouping (Figure 4)', coloraMinusBaselines(d));
  await draw('subspace-similarity', 'Subspace similarity across layers, similar vs dissimilar pairs (Figure 5)', subspaceSimilarity(d));
  await draw('training-loss', 'Training loss per round per method', trainingLoss(d));
  if (d.config.methods.includes('colora')) await draw('colora-core', "CoLoRA's cores per round: movement, condition number, personal share", coloraCore(d));
  return { figures, skipped };
}
