/**
 * The `--queue URL`: `redis://[user:password@]host:port[/db]` or `rediss://` (TLS). Parsed once,
 * and every message that names it uses `masked`, so a password is never printed.
 */
import { UsageError } from '../util/errors.js';

export interface QueueUrl {
  /** The URL as given (with credentials): only for connecting, never for printing. */
  url: string;
  /** The URL with the password replaced by `****`. */
  masked: string;
  tls: boolean;
  host: string;
  port: number;
  db: number;
}

export function maskUrl(raw: string): string {
  return raw.replace(/^([a-z]+:\/\/)([^@/]*)@/i, (_m, scheme: string, cred: string) => {
    const i = cred.indexOf(':');
    return i < 0 ? `${scheme}${cred}@` : `${scheme}${cred.slice(0, i)}:****@`;
  });
}

export function parseQueueUrl(raw: string): QueueUrl {
  const masked = maskUrl(raw);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--queue: '${masked}' is not a URL; expected redis://[user:password@]host:port[/db] or rediss://...`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new UsageError(`--queue: '${masked}' has scheme '${u.protocol.replace(/:$/, '')}'; expected redis:// or rediss://`);
  if (!u.hostname) throw new UsageError(`--queue: '${masked}' names no host`);
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) throw new UsageError(`--queue: '${masked}': the path must be a database number, got '/${path}'`);
  return { url: raw, masked, tls: u.protocol === 'rediss:', host: u.hostname, port: u.port ? Number(u.port) : 6379, db: path ? Number(path) : 0 };
}
