import { NotImplementedError } from '../util/errors.js';

export async function scoreCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('score');
}
