/**
 * Task similarity measured from the data (docs/method.md, "Task similarity, measured").
 *
 * Each task gets two bag-of-features profiles:
 *  - instruction: the stemmed content words of its definition (rouge_score's tokenizer and
 *    Porter stemmer, minus a fixed stop list and numbers);
 *  - format: character 3-grams of the *shapes* of its examples' inputs and outputs, where a shape
 *    replaces every run of digits by `9`, every run of letters by `a` and every run of spaces by
 *    `_` (so `[12, 7]` → `[9,_9]` and `The cat` → `a_a`), inputs and outputs kept apart.
 * The similarity of two tasks is the mean of the cosine similarities of the two profiles, in
 * [0, 1]. A client with several tasks is the sum of its tasks' unit-normalised profiles. A
 * grouping's similarity is the mean over its client pairs.
 */
import { rougeTokenize } from '../metrics/rouge.js';
import type { NiTask } from './ni-task.js';

/** Function words and NI boilerplate ("In this task, you are given …") that say nothing about the task. */
const STOP = new Set(
  (
    'a an the in on of to for from by with and or but not no is are be been being was were will would should must can could may ' +
    'this that these those it its you your we our they their he she his her them there here then than so such as at if into out ' +
    'task given follow example input output answer return each every all any some only also just do doe ' +
    'need which what when where who how one two first'
  )
    .split(/\s+/)
    .flatMap((w) => rougeTokenize(w)),
);

export type Profile = Map<string, number>;

export interface TaskProfile {
  instruction: Profile;
  format: Profile;
}

export interface SimilarityOptions {
  /** Instances per task used for the format profile (the first N, after the positive examples). Default 64. */
  maxInstances?: number;
}

function add(p: Profile, key: string, w = 1): void {
  p.set(key, (p.get(key) ?? 0) + w);
}

/** Digit runs → `9`, letter runs → `a`, whitespace runs → `_`: `[12, -7]` → `[9,_-9]`. */
export function shapeOf(text: string): string {
  return text.replace(/[0-9]+/g, '9').replace(/[A-Za-z]+/g, 'a').replace(/\s+/g, '_');
}

function shapeGrams(p: Profile, side: 'i' | 'o', text: string): void {
  const s = `^${shapeOf(text)}$`;
  for (let i = 0; i + 3 <= s.length; i++) add(p, `${side}:${s.slice(i, i + 3)}`);
}

export function taskProfile(task: NiTask, o: SimilarityOptions = {}): TaskProfile {
  const instruction: Profile = new Map();
  for (const t of rougeTokenize(task.definition)) if (!STOP.has(t) && !/^[0-9]+$/.test(t)) add(instruction, t);
  const format: Profile = new Map();
  const pairs = [
    ...task.positiveExamples.map((e) => ({ input: e.input, output: e.output })),
    ...task.instances.slice(0, o.maxInstances ?? 64).map((i) => ({ input: i.input, output: i.output[0] })),
  ];
  for (const e of pairs) {
    shapeGrams(format, 'i', e.input);
    shapeGrams(format, 'o', e.output);
  }
  return { instruction, format };
}

function norm(p: Profile): number {
  let s = 0;
  for (const v of p.values()) s += v * v;
  return Math.sqrt(s);
}

export function cosine(a: Profile, b: Profile): number {
  const na = norm(a);
  const nb = norm(b);
  if (na === 0 || nb === 0) return 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [k, v] of small) dot += v * (large.get(k) ?? 0);
  return dot / (na * nb);
}

function sumUnit(profiles: readonly Profile[]): Profile {
  const out: Profile = new Map();
  for (const p of profiles) {
    const n = norm(p);
    if (n > 0) for (const [k, v] of p) add(out, k, v / n);
  }
  return out;
}

/** A client's profile: the sum of its tasks' unit-normalised profiles, per component. */
export function clientProfile(tasks: readonly NiTask[], o: SimilarityOptions = {}): TaskProfile {
  const ps = tasks.map((t) => taskProfile(t, o));
  return { instruction: sumUnit(ps.map((p) => p.instruction)), format: sumUnit(ps.map((p) => p.format)) };
}

/** ½ cos(instruction) + ½ cos(format), in [0, 1]. */
export function profileSimilarity(a: TaskProfile, b: TaskProfile): number {
  return 0.5 * cosine(a.instruction, b.instruction) + 0.5 * cosine(a.format, b.format);
}

export function taskSimilarity(a: NiTask, b: NiTask, o: SimilarityOptions = {}): number {
  return profileSimilarity(taskProfile(a, o), taskProfile(b, o));
}

export interface GroupingSimilarity {
  /** Mean over client pairs; NaN for a grouping of one client. */
  mean: number;
  pairs: { a: string; b: string; value: number }[];
}

/** Similarity of every client pair (a before b in the grouping's order) and their mean. */
export function groupingSimilarity(clients: readonly { name: string; tasks: readonly NiTask[] }[], o: SimilarityOptions = {}): GroupingSimilarity {
  const profiles = clients.map((c) => clientProfile(c.tasks, o));
  const pairs: GroupingSimilarity['pairs'] = [];
  for (let i = 0; i < clients.length; i++)
    for (let j = i + 1; j < clients.length; j++) pairs.push({ a: clients[i].name, b: clients[j].name, value: profileSimilarity(profiles[i], profiles[j]) });
  const mean = pairs.length ? pairs.reduce((s, p) => s + p.value, 0) / pairs.length : NaN;
  return { mean, pairs };
}
