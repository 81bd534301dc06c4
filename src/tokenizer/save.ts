/**
 * Write a trained tokenizer into a model directory as tokenizer.json + tokenizer_config.json
 * (each atomically, pretty-printed), the two files loadTokenizer and Hugging Face libraries read.
 */
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import type { TrainedTokenizer } from './format.js';

export function saveTokenizer(dir: string, trained: TrainedTokenizer): void {
  writeJsonAtomic(join(dir, 'tokenizer.json'), trained.tokenizerJson);
  writeJsonAtomic(join(dir, 'tokenizer_config.json'), trained.tokenizerConfig);
}
