/**
 * Super-NaturalInstructions task files: the raw JSON form, the typed form colora uses, and the
 * conversion both ways (built-in tasks are written as files that read back identically).
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { UsageError } from '../util/errors.js';
import { jsonErrorLine, readTextFile } from '../util/text-file.js';

export interface NiExample {
  input: string;
  output: string;
  explanation?: string;
}

export interface NiInstance {
  id: string;
  input: string;
  /** One or more acceptable references. */
  output: string[];
}

export interface NiTask {
  name: string;
  definition: string;
  positiveExamples: NiExample[];
  negativeExamples: NiExample[];
  instances: NiInstance[];
  /** Where it came from: a file path, or `builtin`. */
  source: string;
}

/** The JSON layout of an NI task file (only the fields colora reads or writes). */
export interface NiTaskJson {
  Contributors?: string[];
  Source?: string[];
  Categories?: string[];
  Definition: string[] | string;
  'Positive Examples': { input: string; output: string; explanation?: string }[];
  'Negative Examples'?: { input: string; output: string; explanation?: string }[];
  Instances: { id?: string; input: string; output: string[] | string }[];
  [key: string]: unknown;
}

function fail(file: string, what: string): never {
  throw new UsageError(`${file}: ${what}`);
}

function parseExamples(file: string, key: string, v: unknown): NiExample[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(file, `"${key}" must be a list`);
  return v.map((e, i) => {
    if (!e || typeof e !== 'object') fail(file, `"${key}"[${i}] must be an object`);
    const o = e as Record<string, unknown>;
    if (typeof o.input !== 'string') fail(file, `"${key}"[${i}].input must be a string`);
    if (typeof o.output !== 'string') fail(file, `"${key}"[${i}].output must be a string`);
    const ex: NiExample = { input: o.input, output: o.output };
    if (typeof o.explanation === 'string') ex.explanation = o.explanation;
    return ex;
  });
}

/** Validate the fields colora uses and build an NiTask. `file` is used in messages. */
export function taskFromJson(name: string, raw: unknown, file: string): NiTask {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(file, 'expected a JSON object (an NI task file)');
  const o = raw as Record<string, unknown>;
  let definition: string;
  if (typeof o.Definition === 'string') definition = o.Definition;
  else if (Array.isArray(o.Definition) && o.Definition.length > 0 && o.Definition.every((d) => typeof d === 'string'))
    definition = (o.Definition as string[])[0];
  else fail(file, '"Definition" must be a string or a non-empty list of strings');
  const positiveExamples = parseExamples(file, 'Positive Examples', o['Positive Examples']);
  const negativeExamples = parseExamples(file, 'Negative Examples', o['Negative Examples']);
  if (!Array.isArray(o.Instances)) fail(file, '"Instances" must be a list');
  const instances = (o.Instances as unknown[]).map((inst, i): NiInstance => {
    if (!inst || typeof inst !== 'object') fail(file, `"Instances"[${i}] must be an object`);
    const r = inst as Record<string, unknown>;
    if (typeof r.input !== 'string') fail(file, `"Instances"[${i}].input must be a string`);
    let output: string[];
    if (typeof r.output === 'string') output = [r.output];
    else if (Array.isArray(r.output) && r.output.length > 0 && r.output.every((x) => typeof x === 'string'))
      output = r.output as string[];
    else fail(file, `"Instances"[${i}].output must be a non-empty list of strings`);
    const id = typeof r.id === 'string' && r.id ? r.id : `${name}-${i}`;
    return { id, input: r.input, output };
  });
  return { name, definition, positiveExamples, negativeExamples, instances, source: file };
}

/** The largest task file colora reads (the largest Super-NaturalInstructions task file is ~60 MB). */
export const MAX_TASK_FILE_BYTES = 256 * 2 ** 20;

/**
 * Read and validate one task file; the task name is the file name without `.json`. The file must
 * be UTF-8 without a byte-order mark (as NI's own files and Python's json.load expect); both
 * mistakes are named, with the line.
 */
export function readTaskFile(file: string): NiTask {
  if (!existsSync(file)) fail(file, 'task file not found');
  const text = readTextFile(file, { bom: 'refuse', what: 'task file', maxBytes: MAX_TASK_FILE_BYTES });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const line = jsonErrorLine(text, msg);
    fail(line ? `${file}:${line}` : file, `invalid JSON: ${msg.replace(/^JSON\.parse: /, '')}`);
  }
  return taskFromJson(basename(file).replace(/\.json$/, ''), raw, file);
}

/** The JSON form of a task, as NI files store it (Definition as a one-element list). */
export function taskToJson(task: NiTask, extra: Partial<NiTaskJson> = {}): NiTaskJson {
  const ex = (e: NiExample) => (e.explanation === undefined ? { input: e.input, output: e.output } : { ...e });
  return {
    ...extra,
    Definition: [task.definition],
    'Positive Examples': task.positiveExamples.map(ex),
    'Negative Examples': task.negativeExamples.map(ex),
    Instances: task.instances.map((i) => ({ id: i.id, input: i.input, output: [...i.output] })),
  };
}
