import { NotImplementedError } from '../util/errors.js';

export async function checkCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('check');
}
