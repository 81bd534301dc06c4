/**
 * The adapter on one frozen linear layer (PEFT's LoraLayer), as a LinearDelta for the model:
 *   LoRA:   Δy = (alpha/r) · x Aᵀ Bᵀ
 *   CoLoRA: Δy = (alpha/r) · x Aᵀ (B S)ᵀ      (ΔW = (alpha/r) B S A)
 * A, B (and S) are tf.Variables; which of them train is the method's choice. A layer may also
 * carry a frozen dense correction R (ΔW [out, in], e.g. FedEx-LoRA's residual): Δy += x Rᵀ, a
 * constant, so it is not a tf.Variable and takes the model's unfused path.
 */
import * as tf from '@tensorflow/tfjs';
import type { LowRank } from '../engine/ops.js';
import type { LinearDelta, LinearInfo } from '../model/linear-delta.js';
import type { FactorName, LayerFactors } from './state.js';

export class AdapterLayer implements LinearDelta {
  readonly A: tf.Variable;
  readonly B: tf.Variable;
  readonly S: tf.Variable | undefined;
  /** The frozen correction, transposed to [in, out] (x Rᵀ = x · this.Rt); undefined when the layer has none. */
  private Rt: tf.Tensor2D | undefined;
  /** R as given (frozen, so the host copy is exact). */
  private R: Float32Array | undefined;

  constructor(
    readonly info: LinearInfo,
    readonly rank: number,
    readonly scaling: number,
    factors: LayerFactors,
  ) {
    const r = rank;
    this.A = tf.variable(tf.tensor2d(factors.A, [r, info.inFeatures]), true);
    this.B = tf.variable(tf.tensor2d(factors.B, [info.outFeatures, r]), true);
    this.S = factors.S ? tf.variable(tf.tensor2d(factors.S, [r, r]), true) : undefined;
    if (factors.R) this.Rt = this.frozenResidual(factors.R);
  }

  private frozenResidual(R: Float32Array): tf.Tensor2D {
    this.R = R.slice();
    return tf.tidy(() => tf.transpose(tf.tensor2d(R, [this.info.outFeatures, this.info.inFeatures])) as tf.Tensor2D);
  }

  delta(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const h = tf.mul(tf.matMul(x, this.A, false, true), this.scaling) as tf.Tensor2D; // [N, r]
      const B = this.S ? tf.matMul(this.B, this.S) : this.B; // [out, r]
      const y = tf.matMul(h, B, false, true) as tf.Tensor2D; // [N, out]
      return this.Rt ? (tf.add(y, tf.matMul(x, this.Rt)) as tf.Tensor2D) : y;
    });
  }

  /** The factors for the model's fused linear layer: A, B·S (CoLoRA) or B, and alpha/r; none with a dense R. */
  lowRank(): LowRank | undefined {
    if (this.Rt) return undefined;
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
    if (this.Rt) {
      if (!factors.R) throw new Error(`${this.info.name}: layer with a frozen correction needs R`);
      this.Rt.dispose();
      this.Rt = this.frozenResidual(factors.R);
    }
  }

  /** Current values on the host, read without blocking (GPU backends have no synchronous read). */
  async read(): Promise<LayerFactors> {
    const [A, B, S] = await Promise.all([this.A.data(), this.B.data(), this.S?.data()]);
    const f: LayerFactors = { A: Float32Array.from(A), B: Float32Array.from(B) };
    if (S) f.S = Float32Array.from(S);
    if (this.R) f.R = this.R.slice();
    return f;
  }

  dispose(): void {
    this.A.dispose();
    this.B.dispose();
    this.S?.dispose();
    this.Rt?.dispose();
  }
}
