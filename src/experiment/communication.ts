/**
 * What each method sends, per client (FlowerTune counts communication this way): the bytes a
 * client uploaded and downloaded per round it took part in (mean over those rounds, from the
 * payloads the strategy really exchanged, log.jsonl's bytes_up / bytes_down), and the values it
 * trains and keeps. Written to methods/<method>/communication.json after training, so results
 * rows carry it whether they come from `train` or from a later `eval`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Strategy } from '../methods/strategy.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { ResultRow, RoundLog } from './records.js';

export interface ClientCommunication {
  client: string;
  /** Rounds the client (or the pooled unit it belongs to) trained in. */
  rounds: number;
  bytes_up_per_round: number;
  bytes_down_per_round: number;
  trainable_params: number;
  personal_params: number;
}

const FILE = 'communication.json';

export function communicationOf(strategy: Strategy, log: readonly RoundLog[], clients: readonly string[]): ClientCommunication[] {
  const counts = strategy.parameterCounts();
  return clients.map((client) => {
    const unit = strategy.units.find((u) => u.members.includes(client))?.name ?? client;
    const rounds = log.filter((l) => l.client === unit && l.bytes_up !== undefined);
    const per = (k: 'bytes_up' | 'bytes_down') => (rounds.length ? rounds.reduce((s, l) => s + l[k]!, 0) / rounds.length : 0);
    return {
      client,
      rounds: rounds.length,
      bytes_up_per_round: per('bytes_up'),
      bytes_down_per_round: per('bytes_down'),
      trainable_params: counts.trainable,
      personal_params: counts.personal,
    };
  });
}

export function writeCommunication(methodDir: string, c: readonly ClientCommunication[]): void {
  writeJsonAtomic(join(methodDir, FILE), c);
}

export function readCommunication(methodDir: string): ClientCommunication[] | undefined {
  const f = join(methodDir, FILE);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as ClientCommunication[]) : undefined;
}

/** `rows` with each client's communication columns filled in. */
export function withCommunication(rows: readonly ResultRow[], c: readonly ClientCommunication[] | undefined): ResultRow[] {
  if (!c) return [...rows];
  const by = new Map(c.map((x) => [x.client, x]));
  return rows.map((r) => {
    const x = by.get(r.client);
    if (!x) return r;
    return { ...r, bytes_up_per_round: x.bytes_up_per_round, bytes_down_per_round: x.bytes_down_per_round, trainable_params: x.trainable_params, personal_params: x.personal_params };
  });
}
