/**
 * The adapter kinds (`adapter.kind`), one file each. Adding a kind: one file exporting an
 * AdapterKindSpec (adapter-kind.ts) and one entry below; docs/method.md describes each.
 */
import type { AdapterKindSpec } from './adapter-kind.js';
import { loldu } from './loldu.js';
import { lora } from './lora.js';
import { pissa } from './pissa.js';
import { svfit } from './svfit.js';

const KINDS = [lora, pissa, svfit, loldu] as const;

export type AdapterKind = (typeof KINDS)[number]['name'];
export const ADAPTER_KINDS = KINDS.map((k) => k.name) as unknown as readonly [AdapterKind, ...AdapterKind[]];

/** The spec of a kind (absent: lora). */
export function adapterKind(name: AdapterKind | undefined): AdapterKindSpec {
  return KINDS.find((k) => k.name === (name ?? 'lora'))!;
}

export { pissa as pissaStart };
