import { NotImplementedError } from '../util/errors.js';

export async function benchCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('bench');
}
