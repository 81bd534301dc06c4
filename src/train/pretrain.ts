/**
 * `colora pretrain`: the built-in base model from scratch, offline.
 *  1. Render NI-style examples (Tk-Instruct prompt + output) from built-in tasks, minus the
 *     held-out tasks that fine-tuning experiments use.
 *  2. Train a byte-level BPE tokenizer on them; save tokenizer.json.
 *  3. Train a small GPT-2 (all weights, AdamW, warm-up + cosine) with the LM loss on every token.
 *     Examples (prompt + output + EOS) are packed into one shuffled token stream cut into
 *     fixed-length blocks, as GPT-2 was trained: no compute is spent on padding. Optionally a
 *     fraction of blocks are repeated shuffled spans (repeat-blocks.ts: practice at copying).
 *     A checkpoint every `checkpoint_every` steps; a rerun resumes from it.
 *  4. Save config.json + model.safetensors, measure zero-shot Rouge-L on the held-out eval tasks,
 *     and write MODEL_CARD.md.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PretrainConfig } from './pretrain-config.js';
import { pretrainLr } from './pretrain-config.js';
import { builtinTask, listBuiltinTasks } from '../data/builtin/registry.js';
import { buildPrompt } from '../data/prompt.js';
import { encodePrompt, encodeTarget } from '../data/encode.js';
import { openTaskSource } from '../data/task-source.js';
import { splitTask } from '../data/split.js';
import { trainBpeTokenizer } from '../tokenizer/train-bpe.js';
import { saveTokenizer } from '../tokenizer/save.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/load.js';
import { GPT2 } from '../model/gpt2.js';
import type { CausalLM } from '../model/causal-lm.js';
import type { GPT2Config } from '../model/config.js';
import { initGPT2Arrays } from '../model/init.js';
import { loadGPT2, saveGPT2 } from '../model/checkpoint.js';
import { readSafetensors, writeSafetensors, type TensorData } from '../model/safetensors.js';
import { makeBatch, type Example } from './batch.js';
import { randomRepeatBlocks, repeatBlocks } from './repeat-blocks.js';
import { inductionLoss, inductionProbeBlocks } from './induction-probe.js';
import { batchLoss } from './loss.js';
import { clipByGlobalNorm, createOptimizer, type Optimizer, type OptimizerState } from './optimizer.js';
import { evaluateItems, scoreByTask, type TaskScore } from '../experiment/evaluate.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { RunError, UsageError } from '../util/errors.js';
import { appendFileAtomic, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { toResolvedYaml } from '../config/resolved.js';

const EOS = '<|endoftext|>';

interface TextExample {
  prompt: string;
  target: string;
}

export interface PretrainResult {
  finalLoss: number;
  /** Loss on repeated spans at the last checkpoint (train/induction-probe.ts). */
  inductionLoss: number;
  seconds: number;
  params: number;
  zeroShot: TaskScore[];
}

function renderExamples(cfg: PretrainConfig): TextExample[] {
  const held = new Set(cfg.data.hold_out);
  const rng = Rng.derive(cfg.seed, 'pretrain-prompts');
  const out: TextExample[] = [];
  for (const info of listBuiltinTasks()) {
    if (held.has(info.name)) continue;
    const task = builtinTask(info.name, { instances: cfg.data.instances_per_task, seed: cfg.data.instance_seed });
    for (const inst of task.instances) {
      const k = rng.pick(cfg.data.positive_examples);
      out.push({ prompt: buildPrompt(task, inst, { definition: true, positiveExamples: k }), target: inst.output[0] });
    }
  }
  return out;
}

function fingerprint(cfg: PretrainConfig): string {
  return createHash('sha256').update(JSON.stringify({ data: cfg.data, tokenizer: cfg.tokenizer, model: cfg.model, train: cfg.train, seed: cfg.seed })).digest('hex').slice(0, 16);
}

/** Every example's ids in one seeded order, concatenated and cut into `block_size + 1`-token blocks. */
function packBlocks(texts: TextExample[], tok: Tokenizer, cfg: PretrainConfig, maxSource: number, eosId: number): Example[] {
  const order = Rng.derive(cfg.seed, 'pretrain-pack').shuffle(texts.map((_, i) => i));
  const L = cfg.data.block_size + 1;
  const pw = cfg.data.prompt_loss_weight;
  const blocks: Example[] = [];
  let cur: number[] = [];
  let w: number[] = [];
  for (const i of order) {
    const t = texts[i];
    const p = encodePrompt(tok, t.prompt, maxSource);
    const y = encodeTarget(tok, t.target, cfg.data.max_target_tokens, eosId);
    cur.push(...p, ...y);
    for (let k = 0; k < p.length; k++) w.push(pw);
    for (let k = 0; k < y.length; k++) w.push(1);
    while (cur.length >= L) {
      blocks.push({ promptIds: cur.slice(0, L), targetIds: [], weights: w.slice(0, L) });
      cur = cur.slice(L);
      w = w.slice(L);
    }
  }
  if (blocks.length === 0) throw new Error('pretrain: not enough data for one block');
  return blocks;
}

async function tokenizerFor(cfg: PretrainConfig, out: string, texts: TextExample[]): Promise<Tokenizer> {
  const from = cfg.model.init_from;
  if (from && resolve(from) !== resolve(out)) {
    mkdirSync(out, { recursive: true });
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(from, f), join(out, f));
  }
  if (!existsSync(join(out, 'tokenizer.json'))) {
    const rng = Rng.derive(cfg.seed, 'tokenizer-corpus');
    const corpus = rng.sampleIndices(texts.length, Math.min(cfg.tokenizer.corpus_examples, texts.length)).map((i) => texts[i].prompt + texts[i].target + EOS);
    saveTokenizer(out, trainBpeTokenizer(corpus, { vocabSize: cfg.tokenizer.vocab_size, specialTokens: [EOS], modelMaxLength: cfg.model.n_positions, numbers: cfg.tokenizer.numbers }));
  }
  const tok = await loadTokenizer(out);
  if (!tok) throw new Error(`${out}: tokenizer.json was not written`);
  return tok;
}

interface TrainState {
  model: GPT2;
  vars: Map<string, tf.Variable>;
  decay: Optimizer;
  noDecay: Optimizer;
  decayNames: string[];
  noDecayNames: string[];
}

function buildModel(config: GPT2Config, seed: number, initFrom?: string): TrainState {
  const vars = new Map<string, tf.Variable>();
  const init = initFrom ? loadGPT2(initFrom).namedParams() : undefined;
  for (const [name, a] of initGPT2Arrays(config, seed)) {
    const from = init?.get(name);
    if (init && (!from || !tf.util.arraysEqual(from.shape, a.shape))) throw new UsageError(`model.init_from: ${initFrom} has no tensor ${name} of shape [${a.shape}]`);
    vars.set(name, tf.variable(from ? from.clone() : tf.tensor(a.data, a.shape), true));
  }
  const model = new GPT2(config, vars as Map<string, tf.Tensor>);
  const names = [...vars.keys()];
  // nanoGPT's rule: weight decay on matrices (weights, embeddings), none on biases and LayerNorm gains.
  const decayNames = names.filter((n) => vars.get(n)!.rank >= 2);
  const noDecayNames = names.filter((n) => vars.get(n)!.rank < 2);
  return { model, vars, decayNames, noDecayNames, decay: undefined!, noDecay: undefined! };
}

const CKPT = 'pretrain-checkpoint';

async function saveCheckpoint(out: string, s: TrainState, step: number, fp: string, elapsed: number, lastLoss: number): Promise<void> {
  const dir = join(out, CKPT);
  const tensors = new Map<string, TensorData>();
  for (const [name, v] of s.vars) tensors.set(name, { shape: v.shape, data: (await v.data()) as Float32Array });
  const opt = async (o: Optimizer, tag: string) => {
    const st = await o.exportState();
    st.slots.forEach((d, i) => tensors.set(`opt.${tag}.${i}`, { shape: [d.length], data: d }));
    return { t: st.t, extra: st.extra, n: st.slots.length };
  };
  const meta = { step, fingerprint: fp, elapsed, lastLoss, decay: await opt(s.decay, 'decay'), noDecay: await opt(s.noDecay, 'nodecay') };
  writeSafetensors(join(dir, 'state.safetensors'), tensors);
  writeJsonAtomic(join(dir, 'state.json'), meta);
}

function loadCheckpoint(out: string, s: TrainState, fp: string): { step: number; elapsed: number; lastLoss: number } | undefined {
  const dir = join(out, CKPT);
  if (!existsSync(join(dir, 'state.json')) || !existsSync(join(dir, 'state.safetensors'))) return undefined;
  const meta = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  if (meta.fingerprint !== fp) return undefined;
  const tensors = readSafetensors(join(dir, 'state.safetensors'));
  for (const [name, v] of s.vars) tf.tidy(() => v.assign(tf.tensor(tensors.get(name)!.data, v.shape)));
  const opt = (o: Optimizer, tag: string, m: { t: number; extra: number; n: number }) => {
    const slots = Array.from({ length: m.n }, (_, i) => tensors.get(`opt.${tag}.${i}`)!.data);
    o.importState({ t: m.t, extra: m.extra, slots } satisfies OptimizerState);
  };
  opt(s.decay, 'decay', meta.decay);
  opt(s.noDecay, 'nodecay', meta.noDecay);
  return { step: meta.step, elapsed: meta.elapsed, lastLoss: meta.lastLoss };
}

export async function pretrain(cfg: PretrainConfig, out: string, opts: { quiet?: boolean; backend: string }): Promise<PretrainResult> {
  writeFileAtomic(join(out, 'pretrain.resolved.yaml'), toResolvedYaml(cfg));
  const fp = fingerprint(cfg);
  const texts = renderExamples(cfg);
  const tok = await tokenizerFor(cfg, out, texts);
  const eosId = tok.eosTokenId!;
  const maxSource = Math.min(cfg.data.max_source_tokens, cfg.model.n_positions - cfg.data.max_target_tokens - 1);
  const niBlocks = packBlocks(texts, tok, cfg, maxSource, eosId);

  const config: GPT2Config = {
    vocabSize: tok.vocabSize,
    nPositions: cfg.model.n_positions,
    nEmbd: cfg.model.n_embd,
    nLayer: cfg.model.n_layer,
    nHead: cfg.model.n_head,
    nInner: 4 * cfg.model.n_embd,
    activation: 'gelu_new',
    layerNormEpsilon: 1e-5,
    bosTokenId: eosId,
    eosTokenId: eosId,
    tieWordEmbeddings: true,
  };
  const s = buildModel(config, cfg.seed, cfg.model.init_from);
  const t = cfg.train;
  const vars = (names: string[]) => names.map((n) => s.vars.get(n)!);
  s.decay = createOptimizer(vars(s.decayNames), { kind: 'adamw', betas: [0.9, 0.95], weightDecay: t.weight_decay, gradClip: 0 });
  s.noDecay = createOptimizer(vars(s.noDecayNames), { kind: 'adamw', betas: [0.9, 0.95], weightDecay: 0, gradClip: 0 });
  const resumed = loadCheckpoint(out, s, fp);
  const start = resumed?.step ?? 0;
  let elapsed = resumed?.elapsed ?? 0;
  let lastLoss = resumed?.lastLoss ?? NaN;
  const allVars = [...vars(s.decayNames), ...vars(s.noDecayNames)];
  const params = allVars.reduce((n, v) => n + v.size, 0);

  const progress = new Progress('pretrain', t.steps, { quiet: opts.quiet });
  if (resumed) progress.tick(`resumed at step ${start}`, start);
  const logFile = join(out, 'pretrain_log.jsonl');
  let window: number[] = [];
  // Loss on repeated spans (train/induction-probe.ts), logged at every checkpoint.
  const probe = inductionProbeBlocks(niBlocks, cfg.data.block_size + 1, cfg.seed);
  let lastInduction = NaN;
  const repeatOpts = { length: cfg.data.block_size + 1, minSpan: 8, maxSpan: Math.min(64, Math.floor(cfg.data.block_size / 4)) };
  let t0 = Date.now();
  for (let step = start; step < t.steps; step++) {
    // Each step: repeat_fraction of the batch as fresh repeated-span blocks, the rest NI blocks
    // (both seeded by the step, so a resumed run sees the same batches).
    const nRepeat = Math.round(t.batch_size * cfg.data.repeat_fraction);
    const idx = Rng.derive(cfg.seed, 'pretrain-batch', step).sampleIndices(niBlocks.length, Math.min(t.batch_size - nRepeat, niBlocks.length));
    const repeatRng = Rng.derive(cfg.seed, 'pretrain-repeat', step);
    const repeats = cfg.data.repeat_tokens === 'random' ? randomRepeatBlocks(nRepeat, 1, tok.vocabSize - 1, repeatRng, repeatOpts) : repeatBlocks(niBlocks, nRepeat, repeatRng, repeatOpts);
    const batch = makeBatch([...idx.map((i) => niBlocks[i]), ...repeats], eosId, true);
    const lr = pretrainLr(step, t);
    const { value, grads } = tf.variableGrads(() => batchLoss(s.model, batch), allVars);
    const clipped = clipByGlobalNorm(allVars.map((v) => grads[v.name]), t.grad_clip);
    s.decay.step(clipped.slice(0, s.decayNames.length), lr);
    s.noDecay.step(clipped.slice(s.decayNames.length), lr);
    tf.dispose([...Object.values(grads), ...clipped]);
    const loss = (await value.data())[0];
    value.dispose();
    if (!Number.isFinite(loss)) throw new RunError(`pretrain: non-finite loss (${loss}) at step ${step + 1}; the last checkpoint in ${join(out, CKPT)} is kept`);
    lastLoss = loss;
    window.push(loss);
    progress.tick(`loss ${loss.toFixed(3)} lr ${lr.toExponential(2)}`);
    const done = step + 1;
    if (done % 10 === 0 || done === t.steps) {
      appendFileAtomic(logFile, JSON.stringify({ step: done, loss: window.reduce((a, b) => a + b, 0) / window.length, lr, tokens: batch.B * batch.T }) + '\n');
      window = [];
    }
    if (done % t.checkpoint_every === 0 || done === t.steps) {
      elapsed += (Date.now() - t0) / 1000;
      t0 = Date.now();
      await saveCheckpoint(out, s, done, fp, elapsed, lastLoss);
      lastInduction = await inductionLoss(s.model, probe, eosId);
      appendFileAtomic(logFile, JSON.stringify({ step: done, induction_loss: lastInduction }) + '\n');
    }
  }
  progress.stop();
  elapsed += (Date.now() - t0) / 1000;

  await saveGPT2(s.model, out);
  const zeroShot = await zeroShotScores(cfg, s.model, tok, eosId, maxSource, opts.quiet);
  writeFileAtomic(join(out, 'MODEL_CARD.md'), modelCard(cfg, config, { finalLoss: lastLoss, inductionLoss: lastInduction, seconds: elapsed, params, zeroShot }, opts.backend, texts.length));
  rmSync(join(out, CKPT), { recursive: true, force: true });
  s.decay.finish();
  s.noDecay.finish();
  return { finalLoss: lastLoss, inductionLoss: lastInduction, seconds: elapsed, params, zeroShot };
}

async function zeroShotScores(cfg: PretrainConfig, model: CausalLM, tok: Tokenizer, eosId: number, maxSource: number, quiet?: boolean): Promise<TaskScore[]> {
  if (cfg.eval.tasks.length === 0) return [];
  const source = openTaskSource('builtin');
  const items = cfg.eval.tasks.flatMap((name) => {
    const split = splitTask(source.load(name), 0, cfg.eval.test_per_task, 0);
    return split.test.map((inst) => {
      const prompt = buildPrompt(split.task, inst, { definition: true, positiveExamples: 0 });
      return { task: name, instance: inst, prompt, promptIds: encodePrompt(tok, prompt, maxSource) };
    });
  });
  const progress = new Progress('zero-shot eval', items.length, { quiet });
  let ticked = 0;
  const preds = await evaluateItems(model, tok, items, {
    maxNewTokens: cfg.eval.max_new_tokens,
    batchSize: 16,
    eosId,
    onBatch: (d) => {
      progress.tick('', d - ticked);
      ticked = d;
    },
  });
  progress.stop();
  return scoreByTask(preds);
}

function modelCard(cfg: PretrainConfig, c: GPT2Config, r: PretrainResult, backend: string, nExamples: number): string {
  const mb = (r.params * 4) / 1e6;
  const held = cfg.data.hold_out.length ? cfg.data.hold_out.map((n) => `\`${n}\``).join(', ') : 'none';
  const lines = [
    `# ${cfg.name}`,
    '',
    'A small GPT-2 pretrained from scratch by `colora pretrain` on colora\'s built-in, NI-format synthetic tasks, so that',
    'colora runs fully offline. It is the default base model (`builtin:' + cfg.name + '`) for fine-tuning experiments.',
    '',
    '## Data',
    `- ${nExamples} examples: ${cfg.data.instances_per_task} generated instances (generator seed ${cfg.data.instance_seed}) of each built-in task except the held-out ones, rendered as Tk-Instruct prompts (definition + ${JSON.stringify(cfg.data.positive_examples)} positive examples, drawn per example) followed by the output and \`<|endoftext|>\`.`,
    `- Held out (never seen in pretraining, used by the fine-tuning experiments): ${held}.`,
    ...(cfg.data.repeat_fraction > 0 ? [`- Plus repeated-span blocks (${Math.round(cfg.data.repeat_fraction * 100)} % of training blocks): a span of 8 to min(64, block/4) distinct ${cfg.data.repeat_tokens === 'random' ? 'uniformly random token ids' : 'tokens from that stream, shuffled,'} repeated to fill the block, loss on the repeats only (practice at copying from context; src/train/repeat-blocks.ts).`] : []),
    `- Tokenizer: byte-level BPE trained on ${Math.min(cfg.tokenizer.corpus_examples, nExamples)} of those examples, ${c.vocabSize} tokens, numbers pre-tokenized as ${cfg.tokenizer.numbers === 'groups3' ? 'groups of up to three digits' : 'single digits'} (\`tokenizer.json\`).`,
    '',
    '## Model',
    `- GPT-2 architecture: ${c.nLayer} layers, width ${c.nEmbd}, ${c.nHead} heads, ${c.nPositions} positions, tied LM head.`,
    `- ${r.params.toLocaleString('en-US')} parameters (${mb.toFixed(1)} MB as F32).`,
    '',
    '## Training',
    ...(cfg.model.init_from ? [`- Continued from \`${cfg.model.init_from}\` (its weights and tokenizer); prompt tokens weigh ${cfg.data.prompt_loss_weight} in the loss, outputs 1.`] : []),
    `- ${cfg.train.steps} steps, batch ${cfg.train.batch_size} sequences, AdamW (β = 0.9, 0.95; weight decay ${cfg.train.weight_decay} on matrices), lr ${cfg.train.lr} with ${cfg.train.warmup_steps} warm-up steps and cosine decay to ${cfg.train.min_lr_ratio}×, gradient norm clipped at ${cfg.train.grad_clip}; loss on every token${cfg.data.prompt_loss_weight < 1 ? ` (prompt tokens weighted ${cfg.data.prompt_loss_weight})` : ''}.`,
    `- Seed ${cfg.seed}. Final training loss ${r.finalLoss.toFixed(4)} (last step). Wall time ${(r.seconds / 60).toFixed(1)} min on backend \`${backend}\` (2 CPU cores).`,
    `- Induction probe (loss on the repeats of shuffled 16-token spans; src/train/induction-probe.ts): ${r.inductionLoss.toFixed(3)} at the end, against ln(vocabulary) = ${Math.log(c.vocabSize).toFixed(3)} for uniform guessing; a model that copies from context scores well under 1.`,
    `- Reproduce: ${cfg.model.init_from ? `build \`${cfg.model.init_from}\` first (its own pretraining config), then ` : ''}\`colora pretrain --config configs/pretrain-tiny.yaml --out models/${cfg.name}\`.`,
    '',
    '## Zero-shot Rouge-L on held-out tasks',
    '',
    `First ${cfg.eval.test_per_task} instances (the test split) of each task, definition-only prompt, greedy decoding, NI-official Rouge-L ×100.`,
    '',
    '| task | Rouge-L | exact match | n |',
    '|---|---:|---:|---:|',
    ...r.zeroShot.map((s) => `| ${s.task} | ${s.rougeL.toFixed(1)} | ${s.exact_match.toFixed(1)} | ${s.n_test} |`),
    '',
  ];
  return lines.join('\n');
}
