/**
 * The table of layer kinds: each kind in its own file (./conv.ts, ./pool.ts), everything about
 * it there (./layer.ts says what). The layer types of an architecture derive from the table, and
 * everything that treats layers by kind (../geometry.ts, ../model/model.ts,
 * ../model/array_net.ts, ../model/layers_export.ts) looks the kind up here, so a kind missing a
 * part is a type error, not a silent fallback.
 *
 * A new layer kind: one file exporting a {@linkcode LayerKind}, and one line in
 * {@linkcode LAYER_KINDS}.
 *
 * @module
 */
import { conv, type ConvLayer, type ConvSpec } from "./conv.ts";
import type { LayerKind } from "./layer.ts";
import { pool, type PoolSpec } from "./pool.ts";

export type { ConvLayer, ConvSpec } from "./conv.ts";
export type { PoolSpec } from "./pool.ts";

/** The layer kinds by name: the type of {@linkcode LAYER_KINDS}. */
export interface LayerKinds {
  /** Convolutions (./conv.ts). */
  readonly conv: LayerKind<ConvSpec, ConvLayer>;
  /** Max-pooling (./pool.ts). */
  readonly pool: LayerKind<PoolSpec>;
}

/** Every layer kind, by its `kind`. */
export const LAYER_KINDS: LayerKinds = Object.freeze({ conv, pool });

/** A layer kind's name: "conv" or "pool". */
export type LayerKindName = keyof LayerKinds;

/** One layer of a stack, window fields only (what ../geometry.ts takes). */
export type LayerSpec = {
  [K in LayerKindName]: LayerKinds[K] extends LayerKind<infer S, infer _L> ? S : never;
}[LayerKindName];

/**
 * One layer of an architecture: a {@linkcode LayerSpec} plus, for convolutions, the number of
 * filters and the activation (default relu; the last layer must be linear with 15 filters).
 */
export type ArchLayer = {
  [K in LayerKindName]: LayerKinds[K] extends LayerKind<infer _S, infer L> ? L : never;
}[LayerKindName];

/** The names of the layer kinds, in the table's order. */
export const LAYER_KIND_NAMES: readonly LayerKindName[] = Object.keys(
  LAYER_KINDS,
) as LayerKindName[];

/**
 * The kind of `layer`, typed for it; throws a one-line error naming `where` for an unknown kind.
 *
 * @example
 * ```ts
 * import { kindOf } from "./table.ts";
 * const layer = { kind: "pool", kernel: 2 } as const;
 * console.log(kindOf(layer).window(layer, "pool")); // { kernel: 2, stride: 2, padding: 0 }
 * ```
 */
export function kindOf<L extends LayerSpec>(
  layer: L,
  where = "layer",
): LayerKind<L, L & ArchLayer> {
  const kind = (layer as { kind?: unknown })?.kind;
  if (typeof kind !== "string" || !Object.hasOwn(LAYER_KINDS, kind)) {
    throw new TypeError(
      `${where}: kind must be ${LAYER_KIND_NAMES.map((k) => `"${k}"`).join(" or ")}, got ${
        JSON.stringify(kind)
      }`,
    );
  }
  // the table's entry for `layer.kind` takes exactly the layers of that kind
  return LAYER_KINDS[kind as LayerKindName] as unknown as LayerKind<L, L & ArchLayer>;
}
