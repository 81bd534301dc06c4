/**
 * Connections to the Redis behind `--queue`. `probeRedis` answers within a few seconds whether a
 * Redis is there (exit 2 naming the masked URL if not); `openRedis` gives the long-lived
 * connection BullMQ needs, which reconnects forever (a restarted Redis is waited for, not fatal).
 * Errors are reported with the masked URL only: ioredis's own messages name host and port, never
 * the password, and its unhandled-error printing is replaced by `onError`.
 */
import { Redis } from 'ioredis';
import { UsageError } from '../util/errors.js';
import type { QueueUrl } from './queue-url.js';

export const PROBE_TIMEOUT_MS = 3000;

export async function probeRedis(q: QueueUrl, timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
  const r = new Redis(q.url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let lastError: Error | undefined;
  r.on('error', (e: Error) => (lastError = e));
  try {
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs).unref());
    await Promise.race([r.connect().then(() => r.ping()), timer]);
  } catch (e) {
    const why = (lastError ?? (e as Error)).message;
    throw new UsageError(`--queue: no Redis at ${q.masked} (${why})`);
  } finally {
    r.disconnect();
  }
}

/** A connection for BullMQ (maxRetriesPerRequest null, as BullMQ requires), reconnecting forever. */
export function openRedis(q: QueueUrl, onError: (line: string) => void): Redis {
  let last = 0;
  const r = new Redis(q.url, { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(200 * times, 2000) });
  r.on('error', (e: Error) => {
    const now = Date.now();
    if (now - last < 5000) return; // one line per 5 s while Redis is away
    last = now;
    onError(`colora: Redis at ${q.masked}: ${e.message}; retrying`);
  });
  return r;
}
