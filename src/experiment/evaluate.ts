/**
 * Evaluation: greedy generation for every test instance of a client's tasks, with the client's
 * adapter on the model, scored with NI's Rouge-L and exact match.
 */
import { generate } from '../model/generate.js';
import type { CausalLM } from '../model/causal-lm.js';
import type { Tokenizer } from '../tokenizer/load.js';
import { scorePrediction } from '../metrics/index.js';
import type { TestItem } from './prepare-data.js';
import { yieldToEventLoop } from '../util/yield.js';

export interface Prediction {
  id: string;
  task: string;
  prompt: string;
  prediction: string;
  references: string[];
  rougeL: number;
  exact_match: 0 | 1;
  /** Present (true) when the model's context length ended the prediction (before EOS and eval.max_new_tokens). */
  context_cut?: true;
}

export interface EvalOptions {
  maxNewTokens: number;
  batchSize: number;
  /** End-of-sequence ids: generation stops at any of them, and the prediction ends before it. */
  eosId: number | readonly number[];
  onBatch?: (done: number) => void;
}

/** Decode generated ids up to (not including) the first EOS, trimmed as NI's evaluation expects. */
export function decodePrediction(tok: Tokenizer, ids: number[], eosId: number | readonly number[]): string {
  const stop = typeof eosId === 'number' ? [eosId] : eosId;
  const end = ids.findIndex((id) => stop.includes(id));
  return tok.decode(end >= 0 ? ids.slice(0, end) : ids).trim();
}

export async function evaluateItems(model: CausalLM, tok: Tokenizer, items: readonly TestItem[], o: EvalOptions): Promise<Prediction[]> {
  // Similar prompt lengths in one batch waste less on padding; results go back in item order.
  const order = items.map((_, i) => i).sort((a, b) => items[a].promptIds.length - items[b].promptIds.length);
  const out: Prediction[] = new Array(items.length);
  for (let s = 0; s < order.length; s += o.batchSize) {
    const idx = order.slice(s, s + o.batchSize);
    const { outputIds, cutByContext } = await generate(model, idx.map((i) => items[i].promptIds), { maxNewTokens: o.maxNewTokens, eosId: o.eosId });
    idx.forEach((i, j) => {
      const item = items[i];
      const prediction = decodePrediction(tok, outputIds[j], o.eosId);
      const score = scorePrediction(prediction, item.instance.output);
      out[i] = {
        id: item.instance.id,
        task: item.task,
        prompt: item.prompt,
        prediction,
        references: item.instance.output,
        rougeL: score.rougeL,
        exact_match: score.exact_match,
        ...(cutByContext[j] ? { context_cut: true as const } : {}),
      };
    });
    o.onBatch?.(Math.min(s + o.batchSize, order.length));
    await yieldToEventLoop();
  }
  return out;
}

export interface TaskScore {
  task: string;
  rougeL: number;
  exact_match: number;
  n_test: number;
  /** Predictions of n_test that the model's context length cut short. */
  n_cut: number;
}

/** Mean scores per task, ×100 as NI reports them. */
export function scoreByTask(preds: readonly Prediction[]): TaskScore[] {
  const by = new Map<string, Prediction[]>();
  for (const p of preds) {
    const list = by.get(p.task) ?? [];
    list.push(p);
    by.set(p.task, list);
  }
  return [...by].map(([task, ps]) => ({
    task,
    rougeL: (100 * ps.reduce((s, p) => s + p.rougeL, 0)) / ps.length,
    exact_match: (100 * ps.reduce((s, p) => s + p.exact_match, 0)) / ps.length,
    n_test: ps.length,
    n_cut: ps.filter((p) => p.context_cut).length,
  }));
}
