import { NotImplementedError } from '../util/errors.js';

export async function trainCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('train');
}
