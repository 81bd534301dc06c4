/**
 * `expect:` rules of a sweep or smoke config, checked on its results: a failed rule is printed and
 * the command exits 3. Scores are means over (client, task) rows per seed, then over seeds.
 */
import type { ExpectRule } from '../config/schema.js';
import { mean } from '../report/stats.js';
import type { ResultRow, RoundLog } from './records.js';

export interface RuleOutcome {
  rule: string;
  ok: boolean;
  detail: string;
}

function describe(r: ExpectRule): string {
  const metric = r.metric ?? 'rougeL';
  const where = r.grouping ? ` in grouping ${r.grouping}` : '';
  if (r.no_nan_loss) return 'no NaN or infinite training loss';
  if (r.better_than) return `${r.method ?? 'every method'} ${metric} >= ${r.better_than} ${metric} + ${r.margin}${where}`;
  const bounds = [r.min !== undefined ? `>= ${r.min}` : '', r.max !== undefined ? `<= ${r.max}` : ''].filter(Boolean).join(' and ');
  return `${r.method ?? 'every method'} mean ${metric} ${bounds}${where}`;
}

function score(rows: readonly ResultRow[], method: string, metric: 'rougeL' | 'exact_match', grouping?: string): number {
  const sel = rows.filter((r) => r.method === method && (!grouping || r.grouping === grouping));
  const seeds = [...new Set(sel.map((r) => r.seed))];
  return mean(seeds.map((s) => mean(sel.filter((r) => r.seed === s).map((r) => r[metric]))));
}

export function checkExpectations(rules: readonly ExpectRule[], rows: readonly ResultRow[], log: readonly RoundLog[], nanStopped = false): RuleOutcome[] {
  const methods = [...new Set(rows.map((r) => r.method))];
  return rules.map((r) => {
    const rule = describe(r);
    if (r.no_nan_loss) {
      const bad = log.filter((l) => !Number.isFinite(l.loss_mean));
      const ok = !nanStopped && bad.length === 0;
      return { rule, ok, detail: ok ? `${log.length} round logs, all finite` : nanStopped ? 'training stopped on a non-finite loss' : `${bad.length} non-finite round losses` };
    }
    const metric = r.metric ?? 'rougeL';
    const targets = r.method ? [r.method] : methods;
    const fails: string[] = [];
    const seen: string[] = [];
    for (const m of targets) {
      const v = score(rows, m, metric, r.grouping);
      if (!Number.isFinite(v)) {
        fails.push(`${m}: no results`);
        continue;
      }
      if (r.better_than) {
        const b = score(rows, r.better_than, metric, r.grouping);
        seen.push(`${m} ${v.toFixed(2)} vs ${r.better_than} ${b.toFixed(2)}`);
        if (!(v >= b + r.margin)) fails.push(`${m} ${v.toFixed(2)} < ${r.better_than} ${b.toFixed(2)} + ${r.margin}`);
      } else {
        seen.push(`${m} ${v.toFixed(2)}`);
        if (r.min !== undefined && !(v >= r.min)) fails.push(`${m} ${v.toFixed(2)} < ${r.min}`);
        if (r.max !== undefined && !(v <= r.max)) fails.push(`${m} ${v.toFixed(2)} > ${r.max}`);
      }
    }
    return { rule, ok: fails.length === 0, detail: fails.length ? fails.join('; ') : seen.join('; ') };
  });
}
