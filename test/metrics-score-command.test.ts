import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { scoreCommand } from '../src/metrics/score-command.js';
import { ColoraError } from '../src/util/errors.js';
import { tempDir } from './helpers/temp.js';

const dir = tempDir('colora-score-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function inputFile(content: string): string {
  const file = join(dir, `in${fileCount++}.jsonl`);
  writeFileSync(file, content);
  return file;
}

/** A slow sink with a tiny buffer, so the command has to wait for 'drain'. */
function sink(): { out: Writable; lines: () => unknown[] } {
  const chunks: string[] = [];
  const out = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      setImmediate(done);
    },
  });
  return { out, lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown) };
}

const rec = (prediction: unknown, references: unknown, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ ...extra, prediction, references });

test('one output object per input line, in order; other fields ignored; trailing blank lines skipped', async () => {
  const file = inputFile(
    [
      rec('The cat sat on the mat', ['the cat is on the mat'], { id: 'x', task: 't' }),
      rec('Yes.', ['no', 'yes']),
      rec('', ['anything']),
      '',
      '   ',
      '',
    ].join('\n'),
  );
  const { out, lines } = sink();
  await scoreCommand({ input: file }, out);
  assert.deepEqual(lines(), [
    { rougeL: 5 / 6, exact_match: 0 },
    { rougeL: 1, exact_match: 1 },
    { rougeL: 0, exact_match: 0 },
  ]);
});

test('CRLF line endings and a UTF-8 byte-order mark are accepted', async () => {
  const file = inputFile(`\uFEFF${rec('a b', ['a b'])}\r\n${rec('a', ['b'])}\r\n`);
  const { out, lines } = sink();
  await scoreCommand({ input: file }, out);
  assert.deepEqual(lines(), [
    { rougeL: 1, exact_match: 1 },
    { rougeL: 0, exact_match: 0 },
  ]);
});

test('streams a large file with backpressure', async () => {
  const n = 3000;
  const file = inputFile(Array.from({ length: n }, (_, i) => rec(`answer ${i}`, [`answer ${i % 2 ? i : 'x'}`])).join('\n'));
  const { out, lines } = sink();
  await scoreCommand({ input: file }, out);
  const got = lines() as { rougeL: number; exact_match: number }[];
  assert.equal(got.length, n);
  assert.deepEqual(got[1], { rougeL: 1, exact_match: 1 });
  assert.deepEqual(got[2], { rougeL: 0.5, exact_match: 0 });
});

test('an empty file gives no output', async () => {
  const { out, lines } = sink();
  await scoreCommand({ input: inputFile('') }, out);
  assert.deepEqual(lines(), []);
});

/** Runs the command, expects a UsageError (exit 2) and no output at all; returns its message. */
async function usageError(content: string | undefined, opts?: Record<string, unknown>): Promise<string> {
  const { out, lines } = sink();
  const file = content === undefined ? join(dir, 'missing.jsonl') : inputFile(content);
  const err = await scoreCommand(opts ?? { input: file }, out).then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ColoraError, String(err));
  assert.equal(err.exitCode, 2);
  assert.equal(err.name, 'UsageError');
  assert.deepEqual(lines(), [], 'nothing is written for bad input');
  if (opts === undefined) assert.ok(err.message.startsWith(file), err.message);
  return err.message;
}

const good = rec('a', ['a']);

test('bad input is a UsageError naming the file, the line and what was expected', async () => {
  assert.match(await usageError(undefined), /missing\.jsonl: cannot read the input file \(ENOENT/);
  assert.match(await usageError(`${good}\n{"prediction": "a", "references": [}\n`), /\.jsonl:2: invalid JSON \(.+\); expected \{"prediction"/);
  assert.match(await usageError(`${good}\n${good}\n[1, 2]`), /\.jsonl:3: expected \{"prediction": string, "references": \[string, \.\.\.\]\}, got an array/);
  assert.match(await usageError(`{"references": ["a"]}`), /\.jsonl:1: prediction: expected a string, got nothing \(missing\)/);
  assert.match(await usageError(rec(42, ['a'])), /\.jsonl:1: prediction: expected a string, got number 42/);
  assert.match(await usageError(`${good}\n{"prediction": "a"}`), /\.jsonl:2: references: expected a non-empty array of strings, got nothing \(missing\)/);
  assert.match(await usageError(rec('a', 'a')), /\.jsonl:1: references: expected a non-empty array of strings, got a string "a"/);
  assert.match(await usageError(`${good}\n${good}\n${rec('a', [])}`), /\.jsonl:3: references: expected a non-empty array of strings, got an empty array/);
  assert.match(await usageError(rec('a', ['a', null])), /\.jsonl:1: references\[1\]: expected a string, got null/);
  assert.match(await usageError('null'), /\.jsonl:1: expected \{.*\}, got null/);
});

test('a blank line followed by more records is an error naming the blank line', async () => {
  assert.match(await usageError(`${good}\n\n  \n${good}\n`), /\.jsonl:2: blank line before further records/);
});

test('a directory or a missing --input is a UsageError', async () => {
  assert.match(await usageError(undefined, { input: dir }), /expected a JSONL file, found a directory/);
  assert.match(await usageError(undefined, {}), /--input: expected a JSONL file path/);
});

test('a closed pipe ends the output quietly; other write errors are RunErrors', async () => {
  const failing = (code: string): Writable =>
    new Writable({
      write(_chunk, _enc, done) {
        done(Object.assign(new Error(`write ${code}`), { code }));
      },
    });
  const file = inputFile(Array.from({ length: 50 }, () => good).join('\n'));
  await scoreCommand({ input: file }, failing('EPIPE'));
  const err = await scoreCommand({ input: file }, failing('EIO')).then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ColoraError);
  assert.equal(err.exitCode, 1);
  assert.match(err.message, /cannot write the output \(write EIO\)/);
});
