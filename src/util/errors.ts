/**
 * Errors that end a command with a chosen exit code and one clean line on stderr.
 * Contract: 2 = bad usage / config / input data, 1 = anything else, 3 = a failed `expect:` rule.
 */
export class ColoraError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = 'ColoraError';
  }
}

/** Bad usage, bad config or bad input data: exit 2, message names file / key / line. */
export class UsageError extends ColoraError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** A run that cannot go on (e.g. a NaN loss): exit 1, but the message is still one clean line. */
export class RunError extends ColoraError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'RunError';
  }
}

/** `where: what`, e.g. `configs/a.yaml:12: train.lr: expected a positive number`. */
export function located(file: string, line: number | undefined, keyPath: string | undefined, what: string): string {
  const at = line !== undefined ? `${file}:${line}` : file;
  return keyPath ? `${at}: ${keyPath}: ${what}` : `${at}: ${what}`;
}
