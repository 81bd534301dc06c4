import { NotImplementedError } from '../util/errors.js';

export async function reportCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('report');
}
