/**
 * Reads the `colora score` input: JSONL, one `{"prediction": string, "references": [string, ...]}`
 * per line (other fields ignored), streamed line by line (at most MAX_SCORE_LINE_BYTES per line;
 * strict UTF-8). Trailing blank lines are ignored; a
 * blank line with records after it is an error, so output line N always answers input line N.
 */
import { stat } from 'node:fs/promises';
import { readLines } from '../util/line-reader.js';
import { UsageError, located } from '../util/errors.js';

export interface ScoreRecord {
  /** 1-based line number in the input file. */
  line: number;
  prediction: string;
  references: string[];
}

/** The longest input line `score` reads (bytes); a longer one is exit 2 naming its line. */
export const MAX_SCORE_LINE_BYTES = 64 * 2 ** 20;

const EXPECTED = 'expected {"prediction": string, "references": [string, ...]}';

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty array' : 'an array';
  if (typeof v === 'string') return `a string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** Parses and checks one non-blank input line. */
export function parseScoreLine(file: string, line: number, text: string): ScoreRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(located(file, line, undefined, `invalid JSON (${(err as Error).message}); ${EXPECTED}`));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(located(file, line, undefined, `${EXPECTED}, got ${describe(value)}`));
  }
  const { prediction, references } = value as Record<string, unknown>;
  if (typeof prediction !== 'string') {
    throw new UsageError(located(file, line, 'prediction', `expected a string, got ${describe(prediction)}`));
  }
  if (!Array.isArray(references) || references.length === 0) {
    throw new UsageError(
      located(file, line, 'references', `expected a non-empty array of strings, got ${describe(references)}`),
    );
  }
  references.forEach((r, i) => {
    if (typeof r !== 'string') {
      throw new UsageError(located(file, line, `references[${i}]`, `expected a string, got ${describe(r)}`));
    }
  });
  return { line, prediction, references: references as string[] };
}

/** Yields every record of a score input file, in order; bad input throws a UsageError naming the line. */
export async function* readScoreRecords(file: string): AsyncGenerator<ScoreRecord> {
  let isFile: boolean;
  try {
    isFile = (await stat(file)).isFile();
  } catch (err) {
    throw new UsageError(located(file, undefined, undefined, `cannot read the input file (${(err as Error).message})`));
  }
  if (!isFile) throw new UsageError(located(file, undefined, undefined, 'expected a JSONL file, found a directory or device'));

  let lineNo = 0;
  let firstPendingBlank: number | undefined;
  try {
    for await (const { line, text } of readLines(file, MAX_SCORE_LINE_BYTES, 'the line')) {
      lineNo = line;
      if (text.trim() === '') {
        firstPendingBlank ??= lineNo;
        continue;
      }
      if (firstPendingBlank !== undefined) {
        throw new UsageError(
          located(file, firstPendingBlank, undefined, 'blank line before further records (only trailing blank lines are allowed); ' + EXPECTED),
        );
      }
      yield parseScoreLine(file, lineNo, text);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(located(file, lineNo + 1, undefined, `cannot read the input file (${(err as Error).message})`));
  }
}
