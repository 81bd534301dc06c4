import { NotImplementedError } from '../util/errors.js';

export async function theoryCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('theory');
}
