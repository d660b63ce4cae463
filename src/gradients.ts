/**
 * Registers the gradient functions of every tfjs-core op (needed by `tf.grads`, `tf.variableGrads`
 * and optimizers).
 *
 * The Node/Deno entry of `@tensorflow/tfjs-core` (dist/tf-core.node.js) ships without them: the
 * registrations live in `dist/register_all_gradients.js`, an ESM tree with extension-less imports
 * that Deno cannot load. The `@tensorflow/tfjs` bundle (same version, so the same single tfjs-core
 * instance and engine) registers them all when imported. Importing it registers no extra backend
 * in Deno (webgl needs a browser) and costs ~60 ms.
 *
 * @example
 * ```ts
 * import "./gradients.ts";
 * import { tf } from "./deps.ts";
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)));
 * ```
 *
 * @module
 */
// deno-lint-ignore no-import-prefix -- pinned specifier so the library works from a URL
import "npm:@tensorflow/tfjs@4.22.0";
