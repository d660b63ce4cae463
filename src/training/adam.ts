/**
 * Adam (Kingma & Ba) over named variables, with a learning rate set per step (for schedules) and
 * its moments exposed by name so a checkpoint can save and restore them exactly.
 *
 * The update is written once as tfjs ops (any backend); where the backend has the fused kernel
 * (../backends/wasm/adam_kernel.ts: wasm, native, onednn) that one pass computes the same bits.
 *
 * @module
 */
import { type Tensor, tf, type Variable } from "../deps.ts";
import { ADAM_KERNEL, type AdamAttrs } from "../backends/wasm/adam_kernel.ts";

/** Options of {@linkcode Adam}. */
export interface AdamOptions {
  /** Decay of the first moment; default 0.9. */
  beta1?: number;
  /** Decay of the second moment; default 0.999. */
  beta2?: number;
  /** Added to √v; default 1e-8 (PyTorch's default). */
  epsilon?: number;
  /**
   * Whether to use the backend's fused update kernel where it has one; default true. False runs
   * the tfjs ops (the same bits, slower).
   */
  fused?: boolean;
}

/**
 * Adam optimizer state and update.
 *
 * @example
 * ```ts
 * import { Adam } from "./adam.ts";
 * import { type Scalar, type Tensor, type Variable, tf } from "../deps.ts";
 * const w = tf.variable(tf.scalar(3), true, "w");
 * const adam = new Adam(new Map([["w", w]]));
 * const { grads } = tf.variableGrads(() => tf.square(w) as Scalar);
 * adam.step(grads, 0.1);
 * ```
 */
export class Adam {
  /** Steps taken so far. */
  steps = 0;
  readonly #vars: Map<string, Variable>;
  readonly #m = new Map<string, Variable>();
  readonly #v = new Map<string, Variable>();
  readonly #beta1: number;
  readonly #beta2: number;
  readonly #epsilon: number;
  readonly #fused: boolean;

  constructor(variables: Map<string, Variable>, options: AdamOptions = {}) {
    this.#vars = variables;
    this.#beta1 = options.beta1 ?? 0.9;
    this.#beta2 = options.beta2 ?? 0.999;
    this.#epsilon = options.epsilon ?? 1e-8;
    this.#fused = options.fused ?? true;
    for (const [name, v] of variables) {
      for (const moments of [this.#m, this.#v]) {
        const zeros = tf.zerosLike(v);
        moments.set(name, tf.variable(zeros, false));
        zeros.dispose(); // the variable holds its own reference to the data
      }
    }
  }

  /**
   * Applies one update from gradients keyed by tfjs variable name (`variable.name`, as returned
   * by `tf.variableGrads`) with learning rate `lr`; disposes the gradients.
   */
  step(grads: tf.NamedTensorMap, lr: number): void {
    this.steps++;
    const t = this.steps;
    const b1 = this.#beta1, b2 = this.#beta2;
    const alpha = lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t);
    const fused = this.#fused && tf.getKernel(ADAM_KERNEL, tf.getBackend()) !== undefined;
    const attrs: AdamAttrs = { beta1: b1, beta2: b2, epsilon: this.#epsilon, alpha };
    tf.tidy(() => {
      for (const [name, variable] of this.#vars) {
        const g = grads[variable.name];
        if (!g) continue;
        const m = this.#m.get(name)!, v = this.#v.get(name)!;
        if (fused) {
          const [w2, m2, v2] = tf.engine().runKernel(
            ADAM_KERNEL,
            { w: variable, m, v, g },
            attrs as unknown as tf.NamedAttrMap,
          ) as Tensor[];
          m.assign(m2);
          v.assign(v2);
          variable.assign(w2);
          continue;
        }
        const m2 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(m2);
        v.assign(v2);
        variable.assign(
          tf.sub(variable, tf.mul(tf.div(m2, tf.add(tf.sqrt(v2), this.#epsilon)), alpha)),
        );
      }
    });
    tf.dispose(Object.values(grads));
  }

  /** The moments by name (`<var>/adam_m`, `<var>/adam_v`), for checkpoints. */
  stateTensors(): Map<string, Variable> {
    const out = new Map<string, Variable>();
    for (const name of this.#vars.keys()) {
      out.set(`${name}/adam_m`, this.#m.get(name)!);
      out.set(`${name}/adam_v`, this.#v.get(name)!);
    }
    return out;
  }

  /** Restores moments saved by {@linkcode stateTensors} and the step count. */
  restore(state: Map<string, Tensor>, stepCount: number): void {
    for (const [name, target] of this.stateTensors()) {
      const t = state.get(name);
      if (!t) throw new Error(`Optimizer state is missing "${name}"; delete it to restart Adam`);
      target.assign(t);
    }
    this.steps = stepCount;
  }

  /** Frees the moments. */
  dispose(): void {
    for (const v of [...this.#m.values(), ...this.#v.values()]) v.dispose();
  }
}
