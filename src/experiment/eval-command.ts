import { NotImplementedError } from '../util/errors.js';

export async function evalCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('eval');
}
