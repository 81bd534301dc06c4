/**
 * The records a run writes: one RoundLog per (round, client) in log.jsonl, one ResultRow per
 * (grouping, seed, method, client, task) in results.csv, one ClientPrediction per test instance
 * in predictions.jsonl. A leaf module, so the writers (results-files, run-layout, report) and the
 * driver (run-method) all read the same shapes without importing one another.
 */
import type { MethodName } from '../config/schema.js';
import type { Prediction } from './evaluate.js';

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
  /** Bytes the server sent this client this round, and the client sent back (float32 values × 4; absent in logs of older runs). */
  bytes_down?: number;
  bytes_up?: number;
  /** CoLoRA after this round's aggregation (methods/colora-core.ts): ‖S_i − S_i(0)‖/‖S_i(0)‖, max cond(S_i) over layers, personal share of ‖ΔW_i‖. */
  core_change?: number;
  core_cond?: number;
  personal_share?: number;
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
  /** Predictions the model's context length cut short (absent in rows from before it was counted). */
  n_cut?: number;
  /** What the client's method exchanged and trains (experiment/communication.ts); absent for `base`. */
  bytes_up_per_round?: number;
  bytes_down_per_round?: number;
  trainable_params?: number;
  personal_params?: number;
}

export type ClientPrediction = Prediction & { grouping: string; seed: number; method: MethodName; client: string };
