import { NotImplementedError } from '../util/errors.js';

export async function generateCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('generate');
}
