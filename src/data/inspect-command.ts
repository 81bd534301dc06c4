/** `colora data inspect`: list tasks, or show one task's definition, counts and rendered prompts. */
import { openTaskSource } from './task-source.js';
import { buildPrompt } from './prompt.js';

export async function dataInspectCommand(opts: { tasksDir: string; task?: string; examples: number }): Promise<void> {
  const source = openTaskSource(opts.tasksDir);
  const out: string[] = [];
  if (!opts.task) {
    const names = source.names();
    out.push(`${names.length} tasks in ${source.location}:`);
    for (const name of names) {
      const t = source.load(name);
      out.push(`  ${name.padEnd(64)} ${String(t.instances.length).padStart(5)} instances  ${firstSentence(t.definition)}`);
    }
  } else {
    const t = source.load(opts.task);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    out.push(`task:       ${t.name}`, `source:     ${t.source}`, '', 'Definition:', indent(t.definition), '');
    out.push(
      `instances:          ${t.instances.length}`,
      `positive examples:  ${t.positiveExamples.length}`,
      `negative examples:  ${t.negativeExamples.length}`,
      `references/inst.:   ${mean(t.instances.map((i) => i.output.length)).toFixed(2)}`,
      `mean input chars:   ${mean(t.instances.map((i) => i.input.length)).toFixed(1)}`,
      `mean output chars:  ${mean(t.instances.map((i) => i.output[0].length)).toFixed(1)}`,
    );
    for (const inst of t.instances.slice(0, opts.examples)) {
      const prompt = buildPrompt(t, inst, { definition: true, positiveExamples: 2 });
      out.push('', `--- ${inst.id} (definition + 2 positive examples) ---`, prompt + inst.output[0], `--- references: ${JSON.stringify(inst.output)}`);
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}

function firstSentence(s: string): string {
  const m = /^.*?[.!?](\s|$)/s.exec(s.trim());
  const first = (m ? m[0] : s).replace(/\s+/g, ' ').trim();
  return first.length > 90 ? first.slice(0, 87) + '...' : first;
}

function indent(s: string): string {
  return s.split('\n').map((l) => '  ' + l).join('\n');
}
