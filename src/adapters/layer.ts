/**
 * The adapter on one frozen linear layer (PEFT's LoraLayer), as a LinearDelta for the model:
 *   LoRA:   Δy = (alpha/r) · x Aᵀ Bᵀ
 *   CoLoRA: Δy = (alpha/r) · x Aᵀ (B S)ᵀ      (ΔW = (alpha/r) B S A; S r×r, or diagonal)
 *   SVFit / LoLDU: B diag(D) A with only D trained
 *   FedDPA: Δy = (alpha/r) · (x Aᵀ Bᵀ + x PAᵀ PBᵀ)   (a shared and a personal LoRA, one rank-2r LoRA [A; PA], [B, PB])
 *   with a frozen correction (PiSSA's residual base): ΔW − (alpha/r) RB RA, computed as one
 *   low-rank product of rank r + k ([B·…, −RB] [A; RA]) so the model's weights stay untouched.
 * A, B, S, D, PA and PB are tf.Variables; which of them train is the method's choice. RA, RB are constants.
 * A layer may also carry a frozen dense correction R (ΔW [out, in], e.g. FedEx-LoRA's residual):
 * Δy += x Rᵀ, a constant, so it is not a tf.Variable and takes the model's unfused path.
 */
import * as tf from '@tensorflow/tfjs';
import type { LowRank } from '../engine/ops.js';
import type { LinearDelta, LinearInfo } from '../model/linear-delta.js';
import type { FactorName, LayerFactors } from './state.js';

export class AdapterLayer implements LinearDelta {
  readonly A: tf.Variable;
  readonly B: tf.Variable;
  /** [r, r], or [r] for a diagonal core. */
  readonly S: tf.Variable | undefined;
  readonly D: tf.Variable | undefined;
  readonly PA: tf.Variable | undefined;
  readonly PB: tf.Variable | undefined;
  private correction: { RA: tf.Tensor2D; negRB: tf.Tensor2D; hostA: Float32Array; hostB: Float32Array } | undefined;
  /** The frozen dense correction, transposed to [in, out] (x Rᵀ = x · this.Rt); undefined when the layer has none. */
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
    this.S = factors.S ? tf.variable(factors.S.length === r ? tf.tensor1d(factors.S) : tf.tensor2d(factors.S, [r, r]), true) : undefined;
    this.D = factors.D ? tf.variable(tf.tensor1d(factors.D), true) : undefined;
    this.PA = factors.PA ? tf.variable(tf.tensor2d(factors.PA, [r, info.inFeatures]), true) : undefined;
    this.PB = factors.PB ? tf.variable(tf.tensor2d(factors.PB, [info.outFeatures, r]), true) : undefined;
    if (!this.PA !== !this.PB) throw new Error(`${info.name}: a personal LoRA needs both PA and PB`);
    this.setCorrection(factors);
    if (factors.R) this.Rt = this.frozenResidual(factors.R);
  }

  private frozenResidual(R: Float32Array): tf.Tensor2D {
    this.R = R.slice();
    return tf.tidy(() => tf.transpose(tf.tensor2d(R, [this.info.outFeatures, this.info.inFeatures])) as tf.Tensor2D);
  }

  private setCorrection(f: LayerFactors): void {
    if (this.correction && f.RA === this.correction.hostA && f.RB === this.correction.hostB) return;
    if (this.correction) tf.dispose([this.correction.RA, this.correction.negRB]);
    this.correction = undefined;
    if (!f.RA || !f.RB) return;
    const k = f.RA.length / this.info.inFeatures;
    this.correction = {
      RA: tf.tensor2d(f.RA, [k, this.info.inFeatures]),
      negRB: tf.tidy(() => tf.neg(tf.tensor2d(f.RB!, [this.info.outFeatures, k]))),
      hostA: f.RA,
      hostB: f.RB,
    };
  }

  /** B·diag(D)·S [out, r]: the left factor of the trained product. */
  private left(): tf.Tensor2D {
    let B: tf.Tensor2D = this.B as tf.Tensor2D;
    if (this.D) B = tf.mul(B, tf.reshape(this.D, [1, this.rank])) as tf.Tensor2D;
    if (this.S) B = (this.S.rank === 1 ? tf.mul(B, tf.reshape(this.S, [1, this.rank])) : tf.matMul(B, this.S)) as tf.Tensor2D;
    return B;
  }

  delta(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const { A, B, scale } = this.factors();
      const h = tf.mul(tf.matMul(x, A, false, true), scale) as tf.Tensor2D; // [N, m]
      const y = tf.matMul(h, B, false, true) as tf.Tensor2D; // [N, out]
      return this.Rt ? (tf.add(y, tf.matMul(x, this.Rt)) as tf.Tensor2D) : y;
    });
  }

  /** The factors for the model's fused linear layer; none with a dense R. */
  lowRank(): LowRank | undefined {
    return this.Rt ? undefined : this.factors();
  }

  /** A, B·S (CoLoRA) or B, and alpha/r; FedDPA's personal LoRA and the low-rank correction appended. */
  private factors(): LowRank {
    if (!this.D && !this.correction && !this.PA && (!this.S || this.S.rank === 2))
      return { A: this.A as tf.Tensor2D, B: (this.S ? tf.matMul(this.B, this.S) : this.B) as tf.Tensor2D, scale: this.scaling };
    let A = this.A as tf.Tensor2D;
    let B = this.left();
    if (this.PA && this.PB) {
      A = tf.concat([A, this.PA as tf.Tensor2D], 0);
      B = tf.concat([B, this.PB as tf.Tensor2D], 1);
    }
    if (this.correction) {
      A = tf.concat([A, this.correction.RA], 0);
      B = tf.concat([B, this.correction.negRB], 1);
    }
    return { A, B, scale: this.scaling };
  }

  variable(f: FactorName): tf.Variable | undefined {
    return { A: this.A, B: this.B, S: this.S, D: this.D, PA: this.PA, PB: this.PB }[f];
  }

  /** Overwrite the variables with host values (e.g. the server's new global factors). */
  load(factors: LayerFactors): void {
    tf.tidy(() => {
      this.A.assign(tf.tensor2d(factors.A, this.A.shape as [number, number]));
      this.B.assign(tf.tensor2d(factors.B, this.B.shape as [number, number]));
      for (const [v, host, what] of [[this.S, factors.S, 'S'], [this.D, factors.D, 'D'], [this.PA, factors.PA, 'PA'], [this.PB, factors.PB, 'PB']] as const) {
        if (!v) continue;
        if (!host) throw new Error(`${this.info.name}: this adapter layer needs ${what}`);
        v.assign(tf.tensor(host, v.shape));
      }
    });
    this.setCorrection(factors);
    if (this.Rt) {
      if (!factors.R) throw new Error(`${this.info.name}: layer with a frozen correction needs R`);
      this.Rt.dispose();
      this.Rt = this.frozenResidual(factors.R);
    }
  }

  /** Current values on the host, read without blocking (GPU backends have no synchronous read). */
  async read(): Promise<LayerFactors> {
    const [A, B, S, D, PA, PB] = await Promise.all([this.A.data(), this.B.data(), this.S?.data(), this.D?.data(), this.PA?.data(), this.PB?.data()]);
    const f: LayerFactors = { A: Float32Array.from(A), B: Float32Array.from(B) };
    if (S) f.S = Float32Array.from(S);
    if (D) f.D = Float32Array.from(D);
    if (PA && PB) {
      f.PA = Float32Array.from(PA);
      f.PB = Float32Array.from(PB);
    }
    if (this.correction) {
      f.RA = this.correction.hostA.slice();
      f.RB = this.correction.hostB.slice();
    }
    if (this.R) f.R = this.R.slice();
    return f;
  }

  dispose(): void {
    this.A.dispose();
    this.B.dispose();
    this.S?.dispose();
    this.D?.dispose();
    this.PA?.dispose();
    this.PB?.dispose();
    if (this.correction) tf.dispose([this.correction.RA, this.correction.negRB]);
    this.correction = undefined;
    this.Rt?.dispose();
  }
}
