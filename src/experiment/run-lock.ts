/**
 * One writer per run directory. `train`, `sweep` and `eval` (and the queue coordinator) hold
 * DIR/colora.lock while they write DIR: a JSON file with the holder's pid, host, command and start
 * time, created exclusively (written under a private name, then hard-linked into place, so no
 * reader ever sees it half-written). A second process is refused (exit 2, naming the holder). A
 * lock left by a process that is gone (same host, pid not running) is taken over with a note on
 * stderr. The lock is released on normal exit, on errors and on SIGINT/SIGTERM.
 */
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import { runFile } from './run-layout.js';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  started: string;
}

export interface RunLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** The stale holder this lock was taken over from, if any. */
  readonly tookOver?: LockHolder;
  /** Remove the lock (only if it is still ours); safe to call twice. */
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function describe(h: LockHolder): string {
  return `pid ${h.pid} on ${h.host} (\`${h.command}\`, since ${h.started})`;
}

function readHolder(path: string): { raw: string; holder: LockHolder | undefined } | undefined {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const h = JSON.parse(raw) as LockHolder;
    return { raw, holder: Number.isInteger(h.pid) && typeof h.host === 'string' ? h : undefined };
  } catch {
    return { raw, holder: undefined };
  }
}

/** The command line that holds a lock, as a person would type it. */
export function currentCommand(): string {
  return ['colora', ...process.argv.slice(2)].join(' ');
}

const held = new Set<RunLock>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const l of [...held]) l.release();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      for (const l of [...held]) l.release();
      // The default action, now that the locks are gone: end with the signal's status.
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
}

/**
 * Take DIR's lock or throw a UsageError naming its holder. `note` receives one line when a stale
 * lock is taken over (default: stderr).
 */
export function acquireRunLock(runDir: string, o: { command?: string; note?: (line: string) => void } = {}): RunLock {
  mkdirSync(runDir, { recursive: true });
  const path = runFile(runDir, 'lock');
  const holder: LockHolder = { pid: process.pid, host: hostname(), command: o.command ?? currentCommand(), started: new Date().toISOString() };
  const mine = JSON.stringify(holder) + '\n';
  const tmp = join(runDir, `.colora.lock.${process.pid}.new`); // not *.tmp: stale-temp cleanup must never take it
  writeFileSync(tmp, mine);
  let tookOver: LockHolder | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const seen = readHolder(path);
      if (!seen) continue; // released meanwhile: try again
      const h = seen.holder;
      if (!h) throw new UsageError(`${path}: a lock file colora cannot read; if no colora process writes ${runDir}, remove it`);
      if (h.host !== holder.host || alive(h.pid) || attempt >= 3)
        throw new UsageError(`${runDir} is in use by ${describe(h)}; wait for it to finish, or use another --out${h.host !== holder.host ? ` (if that process is gone, remove ${path})` : ''}`);
      // Stale: move it aside under a private name; if what we moved is no longer the stale
      // holder's (another process took over first), put it back and look again.
      const aside = `${path}.${process.pid}.stale`;
      try {
        renameSync(path, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const moved = readHolder(aside);
      if (moved?.raw !== seen.raw) {
        try {
          linkSync(aside, path);
        } catch {
          /* someone else holds it now; the loop reports them */
        }
        unlinkSync(aside);
        continue;
      }
      unlinkSync(aside);
      tookOver = h;
      (o.note ?? ((l: string) => process.stderr.write(`${l}\n`)))(`colora: took over the lock of ${runDir} from ${describe(h)}, which is no longer running`);
    }
  } finally {
    unlinkSync(tmp);
  }
  installHandlers();
  const lock: RunLock = {
    path,
    holder,
    tookOver,
    release() {
      if (!held.delete(lock)) return;
      if (readHolder(path)?.raw === mine) unlinkSync(path);
    },
  };
  held.add(lock);
  return lock;
}

/** Run `fn` while holding DIR's lock; released however `fn` ends. */
export async function withRunLock<T>(runDir: string, fn: (lock: RunLock) => Promise<T>, o?: { command?: string; note?: (line: string) => void }): Promise<T> {
  const lock = acquireRunLock(runDir, o);
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}
