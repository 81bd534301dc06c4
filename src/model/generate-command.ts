/**
 * `colora generate`: greedy decoding from a prompt (text or ids) with a model and optionally a
 * PEFT adapter. Prints the text (or ids) or, with --json, one object with ids and log-probs.
 */
import { UsageError } from '../util/errors.js';
import { loadGPT2, resolveModelDir } from './checkpoint.js';
import { generate } from './generate.js';
import { loadTokenizer } from '../tokenizer/load.js';

export interface GenerateCommandOptions {
  model: string;
  adapter?: string;
  prompt?: string;
  inputIds?: string;
  maxNewTokens?: number;
  ignoreEos?: boolean;
  json?: boolean;
  backend?: string;
}

/**
 * The compute backend, through src/engine/backend.ts's initBackend (the engine engineer's; the
 * specifier is a variable so this file compiles before that module lands). Without it, tfjs's
 * default backend runs.
 */
async function initBackend(name: string): Promise<void> {
  const spec = '../engine/backend.js';
  let mod: { initBackend(name: string): Promise<unknown> };
  try {
    mod = await import(spec);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('engine/backend')) return;
    throw err;
  }
  await mod.initBackend(name);
}

export function parseInputIds(text: string, vocabSize: number): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) throw new UsageError('--input-ids: expected comma-separated token ids, e.g. 1,2,3; got nothing');
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`--input-ids: '${p}' is not a token id (expected comma-separated non-negative integers, e.g. 1,2,3)`);
    const id = Number(p);
    if (id >= vocabSize) throw new UsageError(`--input-ids: token id ${id} is outside the model's vocabulary [0, ${vocabSize - 1}]`);
    return id;
  });
}

/** `print` receives everything meant for stdout (tests pass their own). */
export async function generateCommand(
  opts: GenerateCommandOptions,
  print: (s: string) => void = (s) => process.stdout.write(s),
): Promise<void> {
  if ((opts.prompt === undefined) === (opts.inputIds === undefined)) {
    throw new UsageError('generate: give exactly one of --prompt TEXT or --input-ids 1,2,3');
  }
  const modelDir = resolveModelDir(opts.model);
  await initBackend(opts.backend ?? 'auto');
  const model = loadGPT2(modelDir);
  try {
    const tokenizer = await loadTokenizer(modelDir);
    let inputIds: number[];
    if (opts.inputIds !== undefined) inputIds = parseInputIds(opts.inputIds, model.config.vocabSize);
    else {
      if (!tokenizer) throw new UsageError(`--prompt: ${modelDir} has no tokenizer; pass token ids with --input-ids instead`);
      inputIds = tokenizer.encode(opts.prompt!);
      if (inputIds.length === 0) throw new UsageError('--prompt: the text encodes to no tokens');
    }
    if (inputIds.length >= model.config.nPositions) {
      throw new UsageError(`generate: the prompt has ${inputIds.length} tokens; the model's n_positions (${model.config.nPositions}) leaves no room to generate`);
    }

    if (opts.adapter !== undefined) {
      // --adapter: src/adapters puts LinearDelta hooks on the model's linear layers.
      let adapters: typeof import('../adapters/peft-io.js');
      try {
        adapters = await import('../adapters/peft-io.js');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new UsageError('--adapter needs src/adapters (not built yet)');
        throw err;
      }
      adapters.applyAdapterDir(model, opts.adapter);
    }

    const eosId = model.config.eosTokenId ?? tokenizer?.eosTokenId;
    const { outputIds, logprobs } = await generate(model, [inputIds], {
      maxNewTokens: opts.maxNewTokens ?? 32,
      eosId,
      ignoreEos: opts.ignoreEos ?? false,
    });
    const out = outputIds[0];
    // The text leaves out a final end-of-sequence token.
    const shown = eosId !== undefined && out[out.length - 1] === eosId && !opts.ignoreEos ? out.slice(0, -1) : out;
    const text = tokenizer?.decode(shown);

    if (opts.json) {
      const obj: Record<string, unknown> = { input_ids: inputIds, output_ids: out, output_logprobs: logprobs[0] };
      if (text !== undefined) obj.text = text;
      print(JSON.stringify(obj) + '\n');
    } else {
      print((text ?? out.join(' ')) + '\n');
    }
  } finally {
    model.dispose();
  }
}
