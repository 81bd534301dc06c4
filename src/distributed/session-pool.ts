/**
 * A worker's loaded base models: one session per (model directory, backend) per concurrent job,
 * kept between jobs, so a worker loads each base model once, not once per cell. Concurrent jobs
 * need separate sessions because an adapter is injected into the model's layers while it runs.
 */
import type { BackendName } from '../config/schema.js';
import { openSession, type ModelSession } from '../experiment/session.js';

export class SessionPool {
  private readonly idle = new Map<string, ModelSession[]>();
  private readonly keyOf = new WeakMap<ModelSession, string>();
  /** Sessions opened so far (the test that models load once reads it). */
  opened = 0;

  constructor(private readonly onOpen: (what: string) => void = () => {}) {}

  async acquire(modelDir: string, backend: BackendName): Promise<ModelSession> {
    const key = `${modelDir}\u0000${backend}`;
    const s = this.idle.get(key)?.pop();
    if (s) return s;
    const t0 = Date.now();
    const fresh = await openSession(modelDir, backend);
    this.opened++;
    this.onOpen(`loaded ${modelDir} on backend ${fresh.backend} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    this.keyOf.set(fresh, key);
    return fresh;
  }

  release(s: ModelSession): void {
    const key = this.keyOf.get(s)!;
    const list = this.idle.get(key) ?? [];
    list.push(s);
    this.idle.set(key, list);
  }
}
