/**
 * Names of the fast engine's own kernels (the fused operations behind src/engine/ops.ts). They are
 * registered only for the fast backend; ops.ts checks for them and otherwise composes tfjs ops.
 */
export const LINEAR = 'ColoraLinear';
/** ColoraLinear for a frozen weight: the input x is not kept for a weight gradient nobody needs. */
export const LINEAR_FROZEN = 'ColoraLinearFrozen';
export const LAYER_NORM = 'ColoraLayerNorm';
export const LAYER_NORM_GRAD = 'ColoraLayerNormGrad';
export const LAYER_NORM_PARAM_GRAD = 'ColoraLayerNormParamGrad';
export const GELU_TANH = 'ColoraGeluTanh';
export const GELU_TANH_GRAD = 'ColoraGeluTanhGrad';
export const ATTENTION = 'ColoraCausalAttention';
export const ATTENTION_GRAD = 'ColoraCausalAttentionGrad';
export const ATTENTION_QKV = 'ColoraCausalSelfAttentionQkv';
export const ATTENTION_QKV_GRAD = 'ColoraCausalSelfAttentionQkvGrad';
/** Decoding: append this step's keys and values (from qkv) to a KVStore and attend over it. */
export const ATTENTION_CACHED = 'ColoraCachedSelfAttention';
export const LINEAR_LOW_RANK = 'ColoraLinearLowRank';
export const LINEAR_LOW_RANK_DX = 'ColoraLinearLowRankDx';
export const CROSS_ENTROPY = 'ColoraCrossEntropy';
export const CROSS_ENTROPY_GRAD = 'ColoraCrossEntropyGrad';
/** One AdamW update of one variable: [p', m', v'] from p, m, v, g (and an optional gradient scale). */
export const ADAMW = 'ColoraAdamW';
/** RMSNorm (Llama): [y, 1/rms per row]; its gradient kernels for x and for the weight. */
export const RMS_NORM = 'ColoraRmsNorm';
export const RMS_NORM_GRAD = 'ColoraRmsNormGrad';
export const RMS_NORM_WEIGHT_GRAD = 'ColoraRmsNormWeightGrad';
/** Rotary position embedding (rotate-half) on the heads of a projection, and its input gradient. */
export const ROTARY = 'ColoraRotary';
export const ROTARY_GRAD = 'ColoraRotaryGrad';
/** silu(gate) · up, and its gradients [dgate, dup]. */
export const SWIGLU = 'ColoraSwiGlu';
export const SWIGLU_GRAD = 'ColoraSwiGluGrad';
/** Causal self-attention over separate q, k, v projections with grouped-query heads: [out, P]; gradient [dq, dk, dv]. */
export const ATTENTION_GQA = 'ColoraGroupedSelfAttention';
export const ATTENTION_GQA_GRAD = 'ColoraGroupedSelfAttentionGrad';
