/**
 * A real redis-server for the queue tests: started on a free loopback port with its own temp
 * directory, stopped and removed by `stop()` (register it with t.after / after). Tests skip,
 * naming the reason, where redis-server is not installed (.ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './temp.js';

export const REDIS_SKIP: string | false = spawnSync('redis-server', ['--version']).status === 0 ? false : 'redis-server is not installed (apt-get install redis-server; .ci/run does)';

export interface RedisOptions {
  password?: string;
  /** Append-only file on (fsync always), so a restart keeps every job. */
  appendonly?: boolean;
}

export interface TestRedis {
  port: number;
  dir: string;
  /** redis://[:password@]127.0.0.1:port */
  url: string;
  /** SHUTDOWN (the AOF is flushed) and wait for the process to exit. */
  shutdown(): Promise<void>;
  start(): Promise<void>;
  /** Shut down and remove the directory; safe to call twice. */
  stop(): Promise<void>;
  /** A command through redis-cli, e.g. ['KEYS', '*']. */
  cli(args: string[]): string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

export async function startRedis(o: RedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = tempDir('colora-redis-');
  let proc: ChildProcess | undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--loglevel', 'warning'];
  if (o.appendonly) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  if (o.password) args.push('--requirepass', o.password);
  const auth = o.password ? ['-a', o.password, '--no-auth-warning'] : [];
  const r: TestRedis = {
    port,
    dir,
    url: `redis://${o.password ? `:${o.password}@` : ''}127.0.0.1:${port}`,
    async start() {
      proc = spawn('redis-server', args, { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        if (await canConnect(port)) return;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`redis-server did not start on port ${port}`);
    },
    async shutdown() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((res) => p.once('exit', res));
      p.kill('SIGTERM'); // redis-server shuts down cleanly on SIGTERM (flushes the AOF)
      await exited;
    },
    async stop() {
      await r.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
    cli(cmd: string[]) {
      return spawnSync('redis-cli', ['-p', String(port), ...auth, ...cmd], { encoding: 'utf8' }).stdout;
    },
  };
  await r.start();
  return r;
}
