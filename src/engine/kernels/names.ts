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
