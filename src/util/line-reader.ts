/**
 * Reading a text file line by line as a stream of bytes, with a limit on one line's length, so a
 * huge line is an error naming its number instead of a string that cannot be allocated (readline
 * builds the whole line first: "RangeError: Invalid string length" past ~512 MB). Lines are
 * decoded as strict UTF-8; a leading byte-order mark is dropped; "\r\n" ends a line like "\n".
 */
import { createReadStream } from 'node:fs';
import { UsageError, located } from './errors.js';
import { decodeUtf8, startsWithBom } from './text-file.js';

export interface TextLine {
  /** 1-based. */
  line: number;
  text: string;
}

/** Yields every line of `file` (a final line without "\n" included; nothing after a final "\n"). */
export async function* readLines(file: string, maxLineBytes: number, what = 'line'): AsyncGenerator<TextLine> {
  let line = 1;
  let parts: Buffer[] = [];
  let partBytes = 0;
  const tooLong = () =>
    new UsageError(located(file, line, undefined, `${what} is longer than the limit of ${maxLineBytes} bytes (${Math.round(maxLineBytes / 2 ** 20)} MiB)`));
  const finish = (): TextLine => {
    let bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, partBytes);
    if (line === 1 && startsWithBom(bytes)) bytes = bytes.subarray(3);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    if (bytes.length > maxLineBytes) throw tooLong();
    let text: string;
    try {
      text = decodeUtf8(bytes, file);
    } catch (err) {
      // decodeUtf8 counts lines inside this one line's bytes; name the file's line instead.
      throw new UsageError(located(file, line, undefined, (err as Error).message.replace(/^.*?:\d+: /, '')));
    }
    const out = { line, text };
    parts = [];
    partBytes = 0;
    line++;
    return out;
  };
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        const end = nl === -1 ? chunk.length : nl;
        // +1: room for a "\r" before the "\n" (finish() checks the exact length).
        if (partBytes + (end - start) > maxLineBytes + 1) throw tooLong();
        if (end > start) {
          parts.push(chunk.subarray(start, end));
          partBytes += end - start;
        }
        if (nl === -1) break;
        yield finish();
        start = nl + 1;
      }
    }
    if (partBytes > 0) yield finish();
  } finally {
    stream.destroy();
  }
}
