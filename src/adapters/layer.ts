/**
 * The adapter on one frozen linear layer (PEFT's LoraLayer), as a LinearDelta for the model:
 *   LoRA:   Δy = (alpha/r) · x Aᵀ Bᵀ
 *   CoLoRA: Δy = (alpha/r) · x Aᵀ (B S)ᵀ      (ΔW = (alpha/r) B S A)
 *   FedDPA: Δy = (alpha/r) · (x Aᵀ Bᵀ + x PAᵀ PBᵀ)   (a shared and a personal LoRA, one rank-2r LoRA [A; PA], [B, PB])
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
  readonly PA: tf.Variable | undefined;
  readonly PB: tf.Variable | undefined;
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
    this.PA = factors.PA ? tf.variable(tf.tensor2d(factors.PA, [r, info.inFeatures]), true) : undefined;
    this.PB = factors.PB ? tf.variable(tf.tensor2d(factors.PB, [info.outFeatures, r]), true) : undefined;
    if (!this.PA !== !this.PB) throw new Error(`${info.name}: a personal LoRA needs both PA and PB`);
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
      let y = tf.matMul(h, B, false, true) as tf.Tensor2D; // [N, out]
      if (this.PA && this.PB) y = tf.add(y, tf.matMul(tf.mul(tf.matMul(x, this.PA, false, true), this.scaling), this.PB, false, true));
      return this.Rt ? (tf.add(y, tf.matMul(x, this.Rt)) as tf.Tensor2D) : y;
    });
  }

  /** The factors for the model's fused linear layer: A, B·S (CoLoRA) or B, and alpha/r; none with a dense R. */
  lowRank(): LowRank | undefined {
    if (this.Rt) return undefined;
    const B = (this.S ? tf.matMul(this.B, this.S) : this.B) as tf.Tensor2D;
    if (this.PA && this.PB) return { A: tf.concat([this.A, this.PA], 0) as tf.Tensor2D, B: tf.concat([B, this.PB], 1) as tf.Tensor2D, scale: this.scaling };
    return { A: this.A as tf.Tensor2D, B, scale: this.scaling };
  }

  variable(f: FactorName): tf.Variable | undefined {
    return { A: this.A, B: this.B, S: this.S, PA: this.PA, PB: this.PB }[f];
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
      if (this.PA && this.PB) {
        if (!factors.PA || !factors.PB) throw new Error(`${this.info.name}: layer with a personal LoRA needs PA and PB`);
        this.PA.assign(tf.tensor2d(factors.PA, this.PA.shape as [number, number]));
        this.PB.assign(tf.tensor2d(factors.PB, this.PB.shape as [number, number]));
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
    const [A, B, S, PA, PB] = await Promise.all([this.A.data(), this.B.data(), this.S?.data(), this.PA?.data(), this.PB?.data()]);
    const f: LayerFactors = { A: Float32Array.from(A), B: Float32Array.from(B) };
    if (S) f.S = Float32Array.from(S);
    if (PA && PB) {
      f.PA = Float32Array.from(PA);
      f.PB = Float32Array.from(PB);
    }
    if (this.R) f.R = this.R.slice();
    return f;
  }

  dispose(): void {
    this.A.dispose();
    this.B.dispose();
    this.S?.dispose();
    this.PA?.dispose();
    this.PB?.dispose();
    this.Rt?.dispose();
  }
}
