import { NotImplementedError } from '../util/errors.js';

export async function dataInspectCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('data inspect');
}
