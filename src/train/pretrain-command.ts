import { NotImplementedError } from '../util/errors.js';

export async function pretrainCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new NotImplementedError('pretrain');
}
