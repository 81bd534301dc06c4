/**
 * `colora generate`: greedy decoding from a prompt (text or ids) with a model and optionally a
 * PEFT adapter. Prints the text (or ids) or, with --json, one object with ids and log-probs.
 * It sits in src/adapters because it uses adapters, the model and the tokenizer, all below it.
 * A text prompt starts with the tokenizer's prefix (BOS for Llama-style tokenizers).
 */
import { UsageError } from '../util/errors.js';
import { resolveModelDir } from '../model/checkpoint.js';
import { loadModel, modelInfo } from '../model/families.js';
import { generate } from '../model/generate.js';
import { endOfSequence } from '../model/generation-config.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { initBackend } from '../engine/backend.js';
import { applyAdapterDir } from './peft-io.js';
import type { BackendName } from '../config/schema.js';

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
  // Validate what can be validated before the backend starts (it reports its choice on stderr).
  const early = opts.inputIds !== undefined ? parseInputIds(opts.inputIds, modelInfo(modelDir).vocabSize) : undefined;
  await initBackend((opts.backend ?? 'auto') as BackendName);
  const { model } = loadModel(modelDir);
  try {
    const tokenizer = await loadTokenizer(modelDir);
    let inputIds: number[];
    if (early) inputIds = early;
    else {
      if (!tokenizer) throw new UsageError(`--prompt: ${modelDir} has no tokenizer; pass token ids with --input-ids instead`);
      const text = tokenizer.encode(opts.prompt!);
      if (text.length === 0) throw new UsageError('--prompt: the text encodes to no tokens');
      inputIds = [...(tokenizer.prefixIds ?? []), ...text];
      const outside = inputIds.find((id) => !(id >= 0 && id < model.info.vocabSize));
      if (outside !== undefined)
        throw new UsageError(`${modelDir}: tokenizer.json gives token id ${outside} for the prompt, outside the model's vocab_size ${model.info.vocabSize}`);
    }
    const ctx = model.info.contextLength;
    if (inputIds.length >= ctx) {
      throw new UsageError(`generate: the prompt has ${inputIds.length} tokens; the model's context length (${ctx}) leaves no room to generate`);
    }

    if (opts.adapter !== undefined) applyAdapterDir(model, opts.adapter);

    const { stopIds } = endOfSequence(modelDir, model.info, tokenizer?.eosTokenId);
    const { outputIds, logprobs } = await generate(model, [inputIds], {
      maxNewTokens: opts.maxNewTokens ?? 32,
      eosId: stopIds,
      ignoreEos: opts.ignoreEos ?? false,
    });
    const out = outputIds[0];
    // The text leaves out a final end-of-sequence token.
    const shown = stopIds.includes(out[out.length - 1]) && !opts.ignoreEos ? out.slice(0, -1) : out;
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
