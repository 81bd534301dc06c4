/**
 * `colora score --input FILE.jsonl`: NI-official Rouge-L and exact match per input line, as JSONL
 * on stdout. The whole file is validated before anything is written, so bad input (exit 2) leaves
 * stdout empty; then it is read again, streaming, and scored.
 */
import { once } from 'node:events';
import { RunError, UsageError } from '../util/errors.js';
import { readScoreRecords } from './score-input.js';
import { scorePrediction } from './score-prediction.js';

export async function scoreCommand(
  opts: Record<string, unknown>,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const file = opts.input;
  if (typeof file !== 'string' || file === '') throw new UsageError('score: --input: expected a JSONL file path');

  for await (const _record of readScoreRecords(file)) {
    // validation pass only
  }

  // A closed pipe (`colora score ... | head`) just ends the output; other write errors are run errors.
  let writeError: NodeJS.ErrnoException | undefined;
  const onError = (err: NodeJS.ErrnoException): void => {
    writeError ??= err;
  };
  out.on('error', onError);
  try {
    for await (const { prediction, references } of readScoreRecords(file)) {
      if (writeError) break;
      const line = `${JSON.stringify(scorePrediction(prediction, references))}\n`;
      if (!out.write(line)) await once(out, 'drain').catch(() => undefined); // an error lands in writeError
    }
  } finally {
    out.off('error', onError);
  }
  if (writeError && writeError.code !== 'EPIPE') throw new RunError(`score: cannot write the output (${writeError.message})`);
}
