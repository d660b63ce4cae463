/**
 * tfjs-core, imported once: every module imports tfjs from here, so the library and the tasks share
 * one engine (and one set of registered kernels). The other tfjs packages (the backends, the
 * gradients' bundle) are imported with the same pinned version, 4.22.0, where they are used: the
 * library must work imported from a URL, without an import map.
 *
 * @module
 */
export * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

import type * as tfc from "npm:@tensorflow/tfjs-core@4.22.0";
// Documented aliases of the tfjs types that appear in our public signatures, so the API docs
// (and `deno doc --lint mod.ts`) name them without pulling in all of tfjs-core's declarations.
/** A tfjs tensor of any rank. */
export type Tensor = tfc.Tensor;
/** A rank-0 tfjs tensor (a scalar, e.g. a loss value). */
export type Scalar = tfc.Scalar;
/** A rank-1 tfjs tensor. */
export type Tensor1D = tfc.Tensor1D;
/** A rank-2 tfjs tensor. */
export type Tensor2D = tfc.Tensor2D;
/** A rank-3 tfjs tensor. */
export type Tensor3D = tfc.Tensor3D;
/** A rank-4 tfjs tensor: images `[N, H, W, C]` or per-window maps `[N, rows, cols, C]`. */
export type Tensor4D = tfc.Tensor4D;
/** A trainable tfjs tensor (model weights). */
export type Variable = tfc.Variable;
/** Tensors keyed by tfjs variable name (`variable.name`), as `tf.variableGrads` returns them. */
export type NamedTensorMap = tfc.NamedTensorMap;
