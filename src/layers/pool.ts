/**
 * The max-pooling layer, everything about it in one place: window and cost, tfjs forward, array
 * forward (with the argmax of every output) and backward (each gradient back to its argmax), and
 * its export entries. No variables; no padding.
 *
 * @module
 */
import { checkInteger, type LayerKind, outSize } from "./layer.ts";

/** A max-pooling layer. Pools are square. */
export interface PoolSpec {
  /** A max-pooling layer. */
  kind: "pool";
  /** Pool side, a positive integer. */
  kernel: number;
  /** Step between pool positions; default = kernel. */
  stride?: number;
}

/** The max-pooling layer kind. */
export const pool: LayerKind<PoolSpec> = {
  kind: "pool",
  summary: "max-pooling (kernel², stride = kernel by default), no padding",
  window(layer, where) {
    const kernel = checkInteger(layer.kernel, 1, `${where}: kernel`);
    const stride = checkInteger(layer.stride ?? kernel, 1, `${where}: stride`);
    if ((layer as { padding?: number }).padding) {
      throw new RangeError(`${where}: pooling layers take no padding`);
    }
    return { kernel, stride, padding: 0 };
  },
  check() {},
  channels: (_layer, inChannels) => inChannels,
  variables: () => [],
  cost: (layer, { inChannels, outHeight, outWidth }) => ({
    params: 0,
    flops: outHeight * outWidth * inChannels * (layer.kernel * layer.kernel - 1),
  }),
  apply: (layer, x, { tf }) => tf.maxPool(x, layer.kernel, layer.stride ?? layer.kernel, "valid"),
  arrays(layer, { inShape }) {
    const [n, h, w, c] = inShape;
    const k = layer.kernel, s = layer.stride ?? k;
    const window = { kernel: k, stride: s, padding: 0 };
    const oh = outSize(h, window), ow = outSize(w, window);
    const argmax = new Int32Array(n * oh * ow * c);
    return {
      outShape: [n, oh, ow, c],
      forward(x, y) {
        let o = 0;
        for (let b = 0; b < n; b++) {
          for (let yo = 0; yo < oh; yo++) {
            for (let xo = 0; xo < ow; xo++) {
              for (let ch = 0; ch < c; ch++, o++) {
                let best = -Infinity, at = -1;
                for (let i = 0; i < k; i++) {
                  const row = ((b * h + yo * s + i) * w + xo * s) * c + ch;
                  for (let j = 0; j < k; j++) {
                    const v = x[row + j * c];
                    if (v > best || at < 0) {
                      best = v;
                      at = row + j * c;
                    }
                  }
                }
                y[o] = best;
                argmax[o] = at;
              }
            }
          }
        }
      },
      backward({ dy, dx }) {
        if (dx) {
          dx.fill(0);
          for (let o = 0; o < dy.length; o++) dx[argmax[o]] += dy[o];
        }
        return [];
      },
    };
  },
  exports: {
    keras: (layer, index) => [{
      class_name: "MaxPooling2D",
      config: {
        name: `pool${index}`,
        trainable: true,
        pool_size: [layer.kernel, layer.kernel],
        strides: [layer.stride ?? layer.kernel, layer.stride ?? layer.kernel],
        padding: "valid",
        data_format: "channels_last",
      },
    }],
    onnx(layer, at) {
      const k = layer.kernel, s = layer.stride ?? k;
      return {
        nodes: [{
          op: "MaxPool",
          inputs: [at.input],
          output: `pool${at.index}`,
          attributes: { kernel_shape: [k, k], strides: [s, s], pads: [0, 0, 0, 0], ceil_mode: 0 },
        }],
        initializers: [],
        channels: at.channels,
      };
    },
  },
};
