import { NotImplementedError } from '../util/errors.js';

export async function dataGenerateCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('data generate');
}
