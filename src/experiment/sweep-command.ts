import { NotImplementedError } from '../util/errors.js';

export async function sweepCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('sweep');
}
