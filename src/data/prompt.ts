/**
 * Tk-Instruct prompts, as Super-NaturalInstructions' collator (ni_collator.py) builds them:
 *
 *   Definition: <definition>.\n\n
 *    Positive Example 1 -\nInput: <input>.\n Output: <output>.\n\n      (k of them)
 *   Now complete the following example -\nInput: <input>.\nOutput: 
 *
 * The trailing-period rule: a segment that does not already end in ASCII punctuation gets a ".".
 * Positive examples are added one by one while the prompt still fits `maxSourceTokens` (when a
 * token counter is given), exactly like the collator.
 */
import type { NiExample, NiInstance, NiTask } from './ni-task.js';

/** Python's string.punctuation. */
const ASCII_PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

export interface PromptOptions {
  definition: boolean;
  positiveExamples: number;
}

function endWithPeriod(s: string): string {
  return s.length > 0 && ASCII_PUNCTUATION.has(s[s.length - 1]) ? s : s + '.';
}

/** Python's str.strip() (Unicode whitespace). */
export function pyStrip(s: string): string {
  return s.replace(/^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/gu, '');
}

export function definitionSegment(task: NiTask): string {
  return endWithPeriod('Definition: ' + pyStrip(task.definition)) + '\n\n';
}

export function positiveExampleSegment(ex: NiExample, index: number): string {
  let s = ` Positive Example ${index + 1} -\n`;
  s = endWithPeriod(s + `Input: ${pyStrip(ex.input)}`) + '\n';
  s = endWithPeriod(s + ` Output: ${pyStrip(ex.output)}`) + '\n';
  return s + '\n';
}

export function instanceSegment(inst: NiInstance): string {
  return endWithPeriod(`Now complete the following example -\nInput: ${pyStrip(inst.input)}`) + '\nOutput: ';
}

/**
 * The prompt text for one instance. `countTokens`, when given, enforces the collator's rule that a
 * positive example is only added if the prompt with it stays within `maxSourceTokens`.
 */
export function buildPrompt(
  task: NiTask,
  inst: NiInstance,
  opts: PromptOptions,
  countTokens?: (text: string) => number,
  maxSourceTokens = Infinity,
): string {
  const definition = opts.definition ? definitionSegment(task) : '';
  const input = instanceSegment(inst);
  const examples: string[] = [];
  const k = Math.min(opts.positiveExamples, task.positiveExamples.length);
  for (let i = 0; i < k; i++) {
    const seg = positiveExampleSegment(task.positiveExamples[i], i);
    // The collator measures with " ".join(examples) here (and "".join in the final prompt).
    if (countTokens && countTokens(definition + examples.join(' ') + seg + input) > maxSourceTokens) break;
    examples.push(seg);
  }
  return definition + examples.join('') + input;
}
