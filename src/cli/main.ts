/**
 * The `colora` command line: parses arguments and calls the feature's entry point. No logic
 * lives here beyond turning flags into typed options and errors into exit codes.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ColoraError } from '../util/errors.js';
import { BACKENDS } from '../config/schema.js';

function int(name: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name} expects an integer, got '${v}'`);
    return Number(v);
  };
}
function posInt(name: string) {
  return (v: string): number => {
    const n = int(name)(v);
    if (n <= 0) throw new InvalidArgumentError(`${name} expects a positive integer, got '${v}'`);
    return n;
  };
}
function nonNegInt(name: string) {
  return (v: string): number => {
    const n = int(name)(v);
    if (n < 0) throw new InvalidArgumentError(`${name} expects an integer of 0 or more, got '${v}'`);
    return n;
  };
}
function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
const backendOption = () =>
  new Option('--backend <name>', 'compute backend; auto picks the fastest that initialises here').choices([...BACKENDS]);

export function buildProgram(): Command {
  const program = new Command('colora')
    .description(
      'Experiment runner for CoLoRA: a shared low-rank adapter plus small personal adapters, compared with\n' +
        'local-only LoRA and FedAvg-LoRA on Super-NaturalInstructions tasks.',
    )
    .version('0.1.0')
    .configureOutput({ outputError: (str, write) => write(`colora: ${str.replace(/^error: /, '').trimEnd()} (see --help)\n`) });

  program
    .command('train')
    .description('train every method of an experiment config on its clients, then evaluate (writes a run directory)')
    .requiredOption('--config <file>', 'experiment config (YAML)')
    .option('--out <dir>', 'run directory (default: results/<name>)')
    .addOption(backendOption())
    .option('--seed <n>', 'override the config seed', int('--seed'))
    .option('--tasks-dir <dir>', "override data.tasks_dir (an NI tasks/ directory, or 'builtin')")
    .option('--no-eval', 'skip the evaluation at the end')
    .option('--overwrite', 'remove what --out holds and start over (a changed config is otherwise refused)')
    .option('--quiet', 'no progress output')
    .action(async (o) => (await import('../experiment/train-command.js')).trainCommand(o));

  program
    .command('eval')
    .description('evaluate the adapters of a finished run on its test instances (predictions, results.csv, summary.md)')
    .requiredOption('--run <dir>', 'run directory written by `colora train`')
    .option('--max-instances <n>', 'evaluate only the first N test instances per task', posInt('--max-instances'))
    .addOption(backendOption())
    .option('--quiet', 'no progress output')
    .action(async (o) => (await import('../experiment/eval-command.js')).evalCommand(o));

  program
    .command('sweep')
    .description('run every (grouping x seed x method) cell of a sweep config; --resume finishes only missing cells')
    .requiredOption('--config <file>', 'sweep config (YAML)')
    .option('--out <dir>', 'sweep directory (default: results/<name>)')
    .option('--resume', 'skip cells that already finished in --out under the same settings (a changed setting is refused)')
    .option('--overwrite', 'remove the cells --out holds and start over')
    .option('--tasks-dir <dir>', "override data.tasks_dir (an NI tasks/ directory, or 'builtin')")
    .addOption(backendOption())
    .option('--quiet', 'no progress output')
    .option('--queue <url>', 'coordinate workers through Redis (redis://[user:password@]host:port[/db] or rediss://) instead of running the cells here')
    .option('--artifacts <dir>', 'with --queue: a directory shared with the workers, where they leave cell files too large for Redis')
    .action(async (o) => (await import('../experiment/sweep-command.js')).sweepCommand(o));

  program
    .command('worker')
    .description('run the cells (and client updates) that `colora sweep --queue URL` enqueues, until stopped')
    .requiredOption('--queue <url>', 'Redis URL: redis://[user:password@]host:port[/db] or rediss://')
    .option('--concurrency <n>', 'jobs at a time (each holds its own copy of the base model)', posInt('--concurrency'), 1)
    .addOption(backendOption())
    .option('--max-jobs <n>', 'exit after taking this many jobs', posInt('--max-jobs'))
    .option('--idle-exit <seconds>', 'exit after this many seconds without a job', nonNegInt('--idle-exit'))
    .option('--artifacts <dir>', 'shared directory for cell files (when the coordinator uses --artifacts)')
    .option('--client <name>', 'serve only this client: its updates and evaluation, on its own data')
    .option('--tasks-dir <dir>', "with --client: this client's task files (an NI tasks/ directory)")
    .action(async (o) => (await import('../distributed/worker-command.js')).workerCommand(o));

  program
    .command('report')
    .description('write summary.md and plots/ (SVG and PNG) for a run or sweep directory')
    .requiredOption('--run <dir>', 'run or sweep directory')
    .action(async (o) => (await import('../report/report-command.js')).reportCommand(o));

  program
    .command('pretrain')
    .description('train a tokenizer and a small GPT-2 from scratch on built-in tasks (makes models/tiny-ni)')
    .requiredOption('--config <file>', 'pretraining config (YAML)')
    .requiredOption('--out <dir>', 'model directory to write')
    .addOption(backendOption())
    .option('--quiet', 'no progress output')
    .action(async (o) => (await import('../train/pretrain-command.js')).pretrainCommand(o));

  program
    .command('generate')
    .description('greedy decoding with a model (and optionally an adapter)')
    .requiredOption('--model <dir-or-name>', 'Hugging Face model directory or builtin:NAME')
    .option('--adapter <dir>', 'PEFT adapter directory to apply')
    .option('--prompt <text>', 'prompt text (needs a tokenizer)')
    .option('--input-ids <ids>', 'comma-separated token ids')
    .option('--max-new-tokens <n>', 'tokens to generate', posInt('--max-new-tokens'), 32)
    .option('--ignore-eos', 'do not stop at the end-of-sequence token')
    .option('--json', 'print one JSON object with ids, log-probabilities and text')
    .addOption(backendOption())
    .action(async (o) => (await import('../adapters/generate-command.js')).generateCommand(o));

  program
    .command('score')
    .description("NI-official Rouge-L and exact match for a JSONL of {prediction, references}; JSONL to stdout")
    .requiredOption('--input <file>', 'JSONL file, one {"prediction", "references"} object per line')
    .action(async (o) => (await import('../metrics/score-command.js')).scoreCommand(o));

  program
    .command('check')
    .description('validate a config exactly as train/sweep would and print it resolved (YAML)')
    .requiredOption('--config <file>', 'experiment or sweep config (YAML)')
    .option('--tasks-dir <dir>', "override data.tasks_dir (an NI tasks/ directory, or 'builtin')")
    .action(async (o) => (await import('../config/check-command.js')).checkCommand(o));

  const data = program.command('data').description('built-in tasks and task files');
  data
    .command('generate')
    .description('write built-in tasks as Natural Instructions task files')
    .requiredOption('--out <dir>', 'directory to write task JSON files into')
    .option('--task <name>', 'a task to write (repeatable; default: all built-in tasks)', collect)
    .option('--instances <n>', 'instances per task', posInt('--instances'), 200)
    .option('--seed <n>', 'generator seed', int('--seed'), 0)
    .action(async (o) => (await import('../data/generate-command.js')).dataGenerateCommand(o));
  data
    .command('inspect')
    .description("show a task's definition, counts and a few rendered prompts")
    .requiredOption('--tasks-dir <dir>', "a natural-instructions tasks/ directory, or 'builtin'")
    .option('--task <name>', 'task to show (default: list all tasks)')
    .option('--examples <n>', 'prompts to render', posInt('--examples'), 2)
    .action(async (o) => (await import('../data/inspect-command.js')).dataInspectCommand(o));

  program
    .command('bench')
    .description('LoRA training and generation throughput on the reference workload (compare with PyTorch)')
    .addOption(backendOption())
    .addOption(new Option('--arch <name>', 'architecture; llama: RMSNorm, rotary, grouped-query attention, SwiGLU, LoRA on q_proj and v_proj').choices(['gpt2', 'llama']).default('gpt2'))
    .option('--layers <n>', 'transformer blocks', posInt('--layers'), 4)
    .option('--d <n>', 'model width', posInt('--d'), 256)
    .option('--heads <n>', 'attention heads', posInt('--heads'), 4)
    .option('--kv-heads <n>', 'llama: key/value heads (default heads/2, at least 1)', posInt('--kv-heads'))
    .option('--ffn <n>', 'llama: SwiGLU width (default 8d/3 rounded up to a multiple of 64)', posInt('--ffn'))
    .option('--vocab <n>', 'vocabulary size', posInt('--vocab'), 512)
    .option('--ctx <n>', 'training context length', posInt('--ctx'), 128)
    .option('--batch <n>', 'batch size', posInt('--batch'), 8)
    .option('--rank <n>', 'LoRA rank', posInt('--rank'), 8)
    .option('--gen <n>', 'tokens to generate after a 64-token prompt', posInt('--gen'), 32)
    .option('--steps <n>', 'training steps under the reference rule (all but the first are timed)', posInt('--steps'), 6)
    .option('--warmup <n>', 'untimed warm-up first: n training steps and ceil(n/4) generations (default: 20 on the cpu engine, whose JIT settles after ~20 steps; 0 elsewhere; 0 = the reference rule alone)', nonNegInt('--warmup'))
    .option('--json', 'print one JSON object')
    .option('--profile', 'also print where the time goes, per kernel')
    .action(async (o) => (await import('../train/bench-command.js')).benchCommand(o));

  program
    .command('theory')
    .description('heterogeneous low-rank regression: CoAltMin vs local and shared baselines (theory.csv, plots)')
    .requiredOption('--config <file>', 'theory config (YAML)')
    .option('--out <dir>', 'output directory (default: results/theory)')
    .option('--quiet', 'no progress output')
    .action(async (o) => (await import('../theory/theory-command.js')).theoryCommand(o));

  return program;
}

/** The `colora` entry point (bin/colora): runs the command and sets the process exit code. */
export async function main(argv: string[]): Promise<void> {
  process.exitCode = await runCli(argv);
}

/**
 * Run one command line in this process and return its exit code (0, 2, 3 or 1) instead of
 * exiting; errors are written to stderr as one line, as `colora` prints them. `argv` is
 * process.argv-shaped (node, script, ...args). Tests (the fuzz test) call this directly.
 */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) {
    c.exitOverride();
    for (const s of c.commands) s.exitOverride();
  }
  return runGuarded(() => program.parseAsync(argv));
}

/**
 * Run `body` as a command: 0 when it returns, otherwise the error's exit code with its one line
 * on stderr (what `colora` does for every command). Also used to run loaders in tests.
 */
export async function runGuarded(body: () => Promise<unknown>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (err) {
    return exitCodeFor(err);
  }
}

/** The contract promises one line: a message that quotes input (a JSON excerpt) may hold newlines. */
function oneLine(message: string): string {
  return message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // help and version are "errors" to commander; usage mistakes exit 2 per the contract.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof ColoraError) {
    process.stderr.write(`colora: ${oneLine(err.message)}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`colora: ${oneLine(String(e?.message ?? err))}\n`);
  if (process.env.COLORA_DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`);
  else process.stderr.write('(set COLORA_DEBUG=1 for a stack trace)\n');
  return 1;
}
