/** LoRA (PEFT's default): A kaiming-uniform, B = 0, both trained (state.ts initialState). */
import type { AdapterKindSpec } from './adapter-kind.js';

export const lora = { name: 'lora', freezesAB: false } as const satisfies AdapterKindSpec;
