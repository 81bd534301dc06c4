/**
 * The tables a person reads first: per grouping, each method's mean Rouge-L and exact match over
 * clients' tasks (± std over seeds), the per-client table, and CoLoRA minus each baseline.
 */
import type { ResultRow } from '../experiment/records.js';
import { formatInterval, mean, pairedSummary, std } from './stats.js';

function uniq<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

function fmt(m: number, s: number, withStd: boolean): string {
  if (!Number.isFinite(m)) return '–';
  return withStd ? `${m.toFixed(1)} ± ${s.toFixed(1)}` : m.toFixed(1);
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((h, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

export interface MethodScore {
  grouping: string;
  method: string;
  rougeL: number;
  rougeLStd: number;
  exactMatch: number;
  exactMatchStd: number;
  seeds: number;
}

/** Per grouping and method: the mean over (client, task) rows of each seed, then mean ± std over seeds. */
export function methodScores(rows: readonly ResultRow[]): MethodScore[] {
  const out: MethodScore[] = [];
  for (const g of uniq(rows.map((r) => r.grouping)))
    for (const m of uniq(rows.map((r) => r.method))) {
      const sel = rows.filter((r) => r.grouping === g && r.method === m);
      if (!sel.length) continue;
      const seeds = uniq(sel.map((r) => r.seed));
      const perSeed = (key: 'rougeL' | 'exact_match') => seeds.map((s) => mean(sel.filter((r) => r.seed === s).map((r) => r[key])));
      const rl = perSeed('rougeL');
      const em = perSeed('exact_match');
      out.push({ grouping: g, method: m, rougeL: mean(rl), rougeLStd: std(rl), exactMatch: mean(em), exactMatchStd: std(em), seeds: seeds.length });
    }
  return out;
}

/** What a full report adds to the tables: sections before and after them, lines under a grouping's heading. */
export interface SummaryExtras {
  before?: string[];
  groupingNotes?: ReadonlyMap<string, string[]>;
  after?: string[];
}

/** One line per grouping (with its measured task similarity where known), one column per method: Rouge-L (± std over seeds). */
export function overviewTable(rows: readonly ResultRow[], groupings: readonly string[], similarity: ReadonlyMap<string, number> = new Map()): string {
  const scores = methodScores(rows);
  const methods = uniq(rows.map((r) => r.method));
  const multiSeed = scores.some((s) => s.seeds > 1);
  const withSim = similarity.size > 0;
  return table(
    ['grouping', ...(withSim ? ['task similarity'] : []), ...methods],
    groupings.map((g) => {
      const sim = similarity.get(g);
      const cells = methods.map((m) => {
        const s = scores.find((x) => x.grouping === g && x.method === m);
        return s ? fmt(s.rougeL, s.rougeLStd, multiSeed) : '–';
      });
      return [g, ...(withSim ? [sim !== undefined && Number.isFinite(sim) ? sim.toFixed(2) : '–'] : []), ...cells];
    }),
  );
}

export function summaryMarkdown(title: string, rows: readonly ResultRow[], notes: string[] = [], extras: SummaryExtras = {}): string {
  const scores = methodScores(rows);
  const groupings = uniq(rows.map((r) => r.grouping));
  const methods = uniq(rows.map((r) => r.method));
  const multiSeed = scores.some((s) => s.seeds > 1);
  const parts: string[] = [`# ${title}`, ''];
  if (notes.length) parts.push(...notes, '');
  parts.push(
    `Mean over each client's test instances per task, then over tasks${multiSeed ? '; ± is the standard deviation over seeds' : ''}. Scores ×100 (NI-official Rouge-L and exact match).`,
    '',
  );
  const cut = contextCutNote(rows);
  if (cut) parts.push(cut, '');
  if (extras.before?.length) parts.push(...extras.before, '');
  for (const g of groupings) {
    const gs = scores.filter((s) => s.grouping === g);
    parts.push(`## ${groupings.length > 1 || g !== 'default' ? `Grouping: ${g}` : 'Methods'}`, '');
    const gNotes = extras.groupingNotes?.get(g);
    if (gNotes?.length) parts.push(...gNotes, '');
    parts.push(
      table(
        ['method', 'Rouge-L', 'exact match', 'seeds'],
        gs.map((s) => [s.method, fmt(s.rougeL, s.rougeLStd, multiSeed), fmt(s.exactMatch, s.exactMatchStd, multiSeed), String(s.seeds)]),
      ),
      '',
    );
    const colora = gs.find((s) => s.method === 'colora');
    if (colora) {
      const diffs = gs.filter((s) => s.method !== 'colora');
      if (diffs.length)
        parts.push(
          multiSeed
            ? 'CoLoRA minus each baseline (the difference per seed, mean ± std over seeds; the 95 % interval of the mean difference from Student\'s t over seeds, * where it excludes 0; the seeds where CoLoRA came out ahead):'
            : 'CoLoRA minus each baseline (Rouge-L / exact match):',
          '',
          multiSeed
            ? table(
                ['baseline', 'Δ Rouge-L', '95 % interval', 'CoLoRA ahead', 'Δ exact match'],
                diffs.map((s) => {
                  const rl = seedDifferences(rows, g, 'colora', s.method, 'rougeL');
                  const p = pairedSummary(rl);
                  return [s.method, signedStd(rl, true), formatInterval(p), `${p.ahead} of ${p.n} seeds`, signedStd(seedDifferences(rows, g, 'colora', s.method, 'exact_match'), true)];
                }),
              )
            : table(
                ['baseline', 'Δ Rouge-L', 'Δ exact match'],
                diffs.map((s) => [s.method, ...(['rougeL', 'exact_match'] as const).map((k) => signedStd(seedDifferences(rows, g, 'colora', s.method, k), false))]),
              ),
          '',
        );
    }
    const gr = rows.filter((r) => r.grouping === g);
    const keys = uniq(gr.map((r) => `${r.client}\u0000${r.task}`));
    parts.push('Per client and task (Rouge-L, mean over seeds):', '');
    parts.push(
      table(
        ['client', 'task', ...methods],
        keys.map((k) => {
          const [client, task] = k.split('\u0000');
          return [client, task, ...methods.map((m) => fmt(mean(gr.filter((r) => r.client === client && r.task === task && r.method === m).map((r) => r.rougeL)), 0, false))];
        }),
      ),
      '',
    );
  }
  const comm = communicationTable(rows);
  if (comm) parts.push('## What each method sends', '', COMMUNICATION_NOTE, '', comm, '');
  if (extras.after?.length) parts.push(...extras.after, '');
  return parts.join('\n');
}

/** How many predictions the model's context length cut short, when rows count them. */
export function contextCutNote(rows: readonly ResultRow[]): string | undefined {
  const counted = rows.filter((r) => r.n_cut !== undefined);
  if (counted.length === 0) return undefined;
  const cut = counted.reduce((s, r) => s + (r.n_cut ?? 0), 0);
  const total = counted.reduce((s, r) => s + r.n_test, 0);
  return `Predictions cut short by the model's context length, before the end-of-sequence token and eval.max_new_tokens: ${cut} of ${total}${cut > 0 ? ' (n_cut in results.csv; `context_cut` in predictions.jsonl)' : ''}.`;
}

const COMMUNICATION_NOTE =
  'Per client and round it trained in, mean over clients (and groupings, seeds): bytes of the payloads the strategy exchanged (float32 values × 4; the initial adapter comes from the seed and is not sent), and the values each client trains and keeps to itself.';

function bytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${Math.round(n)} B`;
}

/** Per method: bytes up and down per client and round, trainable and personal values per client; undefined when no row has them. */
export function communicationTable(rows: readonly ResultRow[]): string | undefined {
  const withComm = rows.filter((r) => r.bytes_up_per_round !== undefined);
  if (withComm.length === 0) return undefined;
  const methods = uniq(withComm.map((r) => r.method));
  return table(
    ['method', 'up per client-round', 'down per client-round', 'trainable per client', 'personal per client'],
    methods.map((m) => {
      // one value per (grouping, seed, client): a client with several tasks has several rows
      const per = new Map(withComm.filter((r) => r.method === m).map((r) => [`${r.grouping}\u0000${r.seed}\u0000${r.client}`, r]));
      const xs = [...per.values()];
      const avg = (k: 'bytes_up_per_round' | 'bytes_down_per_round' | 'trainable_params' | 'personal_params') => mean(xs.map((r) => r[k]!));
      return [m, bytes(avg('bytes_up_per_round')), bytes(avg('bytes_down_per_round')), Math.round(avg('trainable_params')).toLocaleString('en-US'), Math.round(avg('personal_params')).toLocaleString('en-US')];
    }),
  );
}

function signed(x: number): string {
  return Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(1)}` : '–';
}

/** Per seed that has both methods: a's mean minus b's mean over the grouping's (client, task) rows. */
export function seedDifferences(rows: readonly ResultRow[], grouping: string, a: string, b: string, key: 'rougeL' | 'exact_match'): number[] {
  const sel = rows.filter((r) => r.grouping === grouping);
  const out: number[] = [];
  for (const seed of uniq(sel.map((r) => r.seed))) {
    const ma = mean(sel.filter((r) => r.seed === seed && r.method === a).map((r) => r[key]));
    const mb = mean(sel.filter((r) => r.seed === seed && r.method === b).map((r) => r[key]));
    if (Number.isFinite(ma) && Number.isFinite(mb)) out.push(ma - mb);
  }
  return out;
}

function signedStd(xs: readonly number[], withStd: boolean): string {
  const m = mean(xs);
  return withStd && Number.isFinite(m) ? `${signed(m)} ± ${std(xs).toFixed(1)}` : signed(m);
}
