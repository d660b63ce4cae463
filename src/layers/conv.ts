/**
 * The convolution layer (also the network's "fully connected" layers, as OverFeat turns them into
 * convolutions), everything about it in one place: window and cost, variables, tfjs forward,
 * array forward and backward over a convolution engine, and its export entries.
 *
 * @module
 */
import type { Tensor1D, Tensor4D } from "../deps.ts";
import type { ConvShape } from "./engine.ts";
import {
  type ArrayLayer,
  checkInteger,
  type KerasLayer,
  type LayerKind,
  type OnnxNode,
  type OnnxPlace,
  outSize,
  type Shape4,
} from "./layer.ts";

/** A convolution's window (or a fully connected layer turned into one). Kernels are square. */
export interface ConvSpec {
  /** A convolution. */
  kind: "conv";
  /** Kernel side, a positive integer. */
  kernel: number;
  /** Step between kernel positions; default 1. */
  stride?: number;
  /** Zero padding on each side; default 0. */
  padding?: number;
}

/** A convolution in an architecture: its window, filters and activation. */
export interface ConvLayer extends ConvSpec {
  /** Output channels. */
  filters: number;
  /** Activation after the bias; default "relu". */
  activation?: "relu" | "linear";
}

const isRelu = (layer: ConvLayer) => layer.activation !== "linear";

/**
 * `[k, k, in, out]` (tfjs's HWIO kernel) → `[out, in, k, k]` (ONNX's OIHW).
 *
 * @example
 * ```ts
 * import { hwioToOihw } from "./conv.ts";
 * // k = 1, in = 2, out = 3: [[[[0, 1, 2], [3, 4, 5]]]] → out-major
 * console.log(hwioToOihw(Float32Array.from([0, 1, 2, 3, 4, 5]), 1, 2, 3)); // 0 3 1 4 2 5
 * ```
 */
export function hwioToOihw(
  kernel: Float32Array,
  k: number,
  inChannels: number,
  outChannels: number,
): Float32Array {
  if (kernel.length !== k * k * inChannels * outChannels) {
    throw new RangeError(
      `kernel has ${kernel.length} values, need ${k}×${k}×${inChannels}×${outChannels}`,
    );
  }
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < k; y++) {
    for (let x = 0; x < k; x++) {
      for (let i = 0; i < inChannels; i++) {
        const from = ((y * k + x) * inChannels + i) * outChannels;
        for (let o = 0; o < outChannels; o++) {
          out[((o * inChannels + i) * k + y) * k + x] = kernel[from + o];
        }
      }
    }
  }
  return out;
}

function weight(at: OnnxPlace, name: string): Float32Array {
  const w = at.weights.get(name);
  if (!w) throw new Error(`weights: missing "${name}" for layer ${at.index}`);
  return w.data;
}

/** `dy = 0` where the ReLU output `y` (≥ +0) is +0, without branches (see ./conv.ts's forward). */
function reluMask(dy: Float32Array, y: Float32Array): void {
  const d = new Int32Array(dy.buffer, dy.byteOffset, dy.length);
  const v = new Int32Array(y.buffer, y.byteOffset, y.length);
  for (let j = 0; j < d.length; j++) {
    const b = v[j];
    d[j] &= (b | -b) >> 31;
  }
}

/** The convolution `layer` makes of an input of shape `[N, H, W, C]`. */
function convShape(layer: ConvLayer, [n, h, w, ci]: Shape4): ConvShape {
  const window = conv.window(layer, "conv");
  return {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: outSize(h, window),
    outWidth: outSize(w, window),
    outChannels: layer.filters,
    strideHeight: window.stride,
    strideWidth: window.stride,
    filterHeight: layer.kernel,
    filterWidth: layer.kernel,
    dilationHeight: 1,
    dilationWidth: 1,
    padInfo: { top: window.padding, left: window.padding },
  };
}

/** The convolution layer kind. */
export const conv: LayerKind<ConvSpec, ConvLayer> = {
  kind: "conv",
  summary: "convolution (filters × kernel², stride, zero padding) with bias and ReLU or linear",
  window(layer, where) {
    return {
      kernel: checkInteger(layer.kernel, 1, `${where}: kernel`),
      stride: checkInteger(layer.stride ?? 1, 1, `${where}: stride`),
      padding: checkInteger(layer.padding ?? 0, 0, `${where}: padding`),
    };
  },
  check(layer, where) {
    if (!Number.isInteger(layer.filters) || layer.filters < 1) {
      throw new RangeError(`${where}.filters must be a positive integer, got ${layer.filters}`);
    }
    if (![undefined, "relu", "linear"].includes(layer.activation)) {
      throw new RangeError(
        `${where}.activation must be "relu" or "linear", got ${JSON.stringify(layer.activation)}`,
      );
    }
  },
  channels: (layer) => layer.filters,
  variables: (layer, { index, inChannels }) => [
    [`conv${index}/kernel`, [layer.kernel, layer.kernel, inChannels, layer.filters]],
    [`conv${index}/bias`, [layer.filters]],
  ],
  cost(layer, { inChannels, outHeight, outWidth }) {
    const k = layer.kernel * layer.kernel * inChannels;
    return {
      params: (k + 1) * layer.filters,
      flops: outHeight * outWidth * layer.filters * (2 * k + 1 + (isRelu(layer) ? 1 : 0)),
    };
  },
  apply(layer, x, { tf, weights }) {
    const s = layer.stride ?? 1;
    return tf.fused.conv2d({
      x,
      filter: weights[0] as Tensor4D,
      bias: weights[1] as Tensor1D,
      strides: [s, s],
      pad: layer.padding ? layer.padding : "valid",
      activation: isRelu(layer) ? "relu" : "linear",
    });
  },
  arrays(layer, { inShape, engine }): ArrayLayer {
    const [n, , , ci] = inShape;
    const g = convShape(layer, inShape);
    const kernels = engine.conv(g);
    const relu = isRelu(layer);
    return {
      outShape: [n, g.outHeight, g.outWidth, layer.filters],
      forward(x, y, [w, b]) {
        kernels.forward({ x, w, b, y, relu });
      },
      backward({ x, y, dy, dx, weights }) {
        if (relu) reluMask(dy, y);
        const dw = new Float32Array(layer.kernel * layer.kernel * ci * layer.filters);
        const db = new Float32Array(layer.filters);
        kernels.backwardWeights({ x, dy, dw, db });
        if (dx) kernels.backwardData({ dy, w: weights[0], dx });
        return [dw, db];
      },
    };
  },
  link: (layer, inShape) => ({ shape: convShape(layer, inShape), relu: isRelu(layer) }),
  exports: {
    keras(layer, index) {
      const s = layer.stride ?? 1;
      const pad: KerasLayer[] = layer.padding
        ? [{
          class_name: "ZeroPadding2D",
          config: {
            name: `pad${index}`,
            trainable: true,
            padding: [[layer.padding, layer.padding], [layer.padding, layer.padding]],
            data_format: "channels_last",
          },
        }]
        : [];
      return [...pad, {
        class_name: "Conv2D",
        config: {
          name: `conv${index}`,
          trainable: true,
          filters: layer.filters,
          kernel_size: [layer.kernel, layer.kernel],
          strides: [s, s],
          padding: "valid",
          data_format: "channels_last",
          dilation_rate: [1, 1],
          activation: isRelu(layer) ? "relu" : "linear",
          use_bias: true,
          kernel_initializer: {
            class_name: "VarianceScaling",
            config: { scale: 2, mode: "fan_in", distribution: "normal", seed: null },
          },
          bias_initializer: { class_name: "Zeros", config: {} },
          kernel_regularizer: null,
          bias_regularizer: null,
          activity_regularizer: null,
          kernel_constraint: null,
          bias_constraint: null,
        },
      }];
    },
    onnx(layer, at) {
      const { index: i, channels } = at;
      const k = layer.kernel, s = layer.stride ?? 1, p = layer.padding ?? 0;
      const kernel = hwioToOihw(weight(at, `conv${i}/kernel`), k, channels, layer.filters);
      const nodes: OnnxNode[] = [{
        op: "Conv",
        inputs: [at.input, `conv${i}.weight`, `conv${i}.bias`],
        output: `conv${i}`,
        attributes: {
          kernel_shape: [k, k],
          strides: [s, s],
          pads: [p, p, p, p],
          dilations: [1, 1],
          group: 1,
        },
      }];
      if (isRelu(layer)) nodes.push({ op: "Relu", inputs: [`conv${i}`], output: `relu${i}` });
      return {
        nodes,
        initializers: [
          { name: `conv${i}.weight`, dims: [layer.filters, channels, k, k], data: kernel },
          { name: `conv${i}.bias`, dims: [layer.filters], data: weight(at, `conv${i}/bias`) },
        ],
        channels: layer.filters,
      };
    },
  },
};
