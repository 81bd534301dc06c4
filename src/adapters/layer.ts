/**
 * The adapter on one frozen linear layer (PEFT's LoraLayer), as a LinearDelta for the model:
 *   LoRA:   Δy = (alpha/r) · x Aᵀ Bᵀ
 *   CoLoRA: Δy = (alpha/r) · x Aᵀ (B S)ᵀ      (ΔW = (alpha/r) B S A)
 * A, B (and S) are tf.Variables; which of them train is the method's choice.
 *
 * Dropout (PEFT's lora_dropout) acts on the adapter branch's input only, and only while a mask
 * stream is set (training): y = W x + b + (alpha/r) B A dropout(x), with the frozen path W x
 * untouched. Each element of x is zeroed with probability p and the rest scaled by 1/(1-p), as
 * torch.nn.Dropout does; the mask comes from the seeded stream, so a fixed seed repeats it.
 */
import * as tf from '@tensorflow/tfjs';
import type { LowRank } from '../engine/ops.js';
import type { LinearDelta, LinearInfo } from '../model/linear-delta.js';
import type { Rng } from '../util/rng.js';
import type { FactorName, LayerFactors } from './state.js';

export class AdapterLayer implements LinearDelta {
  readonly A: tf.Variable;
  readonly B: tf.Variable;
  readonly S: tf.Variable | undefined;
  /** Where dropout masks come from while training; undefined = evaluation (no dropout). */
  private dropoutStream: Rng | undefined;

  constructor(
    readonly info: LinearInfo,
    readonly rank: number,
    readonly scaling: number,
    factors: LayerFactors,
    readonly dropout = 0,
  ) {
    const r = rank;
    this.A = tf.variable(tf.tensor2d(factors.A, [r, info.inFeatures]), true);
    this.B = tf.variable(tf.tensor2d(factors.B, [info.outFeatures, r]), true);
    this.S = factors.S ? tf.variable(tf.tensor2d(factors.S, [r, r]), true) : undefined;
  }

  /** Training: draw dropout masks from `stream` (one per forward pass); undefined: evaluation. */
  setDropoutStream(stream: Rng | undefined): void {
    this.dropoutStream = stream;
  }

  private get dropping(): boolean {
    return this.dropout > 0 && this.dropoutStream !== undefined;
  }

  /** The inverted-dropout mask for x [N, in]: 0 with probability p, else 1/(1-p). */
  private dropoutMask(n: number, d: number): tf.Tensor2D {
    const p = this.dropout;
    const keep = 1 / (1 - p);
    const rng = this.dropoutStream!;
    const m = new Float32Array(n * d);
    for (let i = 0; i < m.length; i++) m[i] = rng.next() < p ? 0 : keep;
    return tf.tensor2d(m, [n, d]);
  }

  delta(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const xin = this.dropping ? (tf.mul(x, this.dropoutMask(x.shape[0], x.shape[1])) as tf.Tensor2D) : x;
      const h = tf.mul(tf.matMul(xin, this.A, false, true), this.scaling) as tf.Tensor2D; // [N, r]
      const B = this.S ? tf.matMul(this.B, this.S) : this.B; // [out, r]
      return tf.matMul(h, B, false, true); // [N, out]
    });
  }

  /**
   * The factors for the model's fused linear layer: A, B·S (CoLoRA) or B, and alpha/r. None while
   * dropout is on: the fused product cannot mask the adapter's input alone, so delta() runs.
   */
  lowRank(): LowRank | undefined {
    if (this.dropping) return undefined;
    return { A: this.A as tf.Tensor2D, B: (this.S ? tf.matMul(this.B, this.S) : this.B) as tf.Tensor2D, scale: this.scaling };
  }

  variable(f: FactorName): tf.Variable | undefined {
    return f === 'A' ? this.A : f === 'B' ? this.B : this.S;
  }

  /** Overwrite the variables with host values (e.g. the server's new global factors). */
  load(factors: LayerFactors): void {
    tf.tidy(() => {
      this.A.assign(tf.tensor2d(factors.A, this.A.shape as [number, number]));
      this.B.assign(tf.tensor2d(factors.B, this.B.shape as [number, number]));
      if (this.S) {
        if (!factors.S) throw new Error(`${this.info.name}: CoLoRA layer needs S`);
        this.S.assign(tf.tensor2d(factors.S, this.S.shape as [number, number]));
      }
    });
  }

  /** Current values on the host, read without blocking (GPU backends have no synchronous read). */
  async read(): Promise<LayerFactors> {
    const [A, B, S] = await Promise.all([this.A.data(), this.B.data(), this.S?.data()]);
    const f: LayerFactors = { A: Float32Array.from(A), B: Float32Array.from(B) };
    if (S) f.S = Float32Array.from(S);
    return f;
  }

  dispose(): void {
    this.A.dispose();
    this.B.dispose();
    this.S?.dispose();
  }
}
