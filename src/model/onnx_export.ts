/**
 * Export to a standard **ONNX** graph, for ONNX Runtime (CPU, CUDA, TensorRT), Triton Inference
 * Server, OpenVINO and the other runtimes that read ONNX.
 *
 * The graph takes `images` `[N, 1, H, W]` float32 in [0, 1] (NCHW, ONNX's layout) and gives
 * `windows` `[N, 15, rows, cols]`: per window the objectness logit, 10 class logits and the box
 * `[top, bottom, left, right]` in the window's frame — `model.apply`'s `[N, rows, cols, 15]`
 * with the channels first. N, H and W are dynamic (`rows = ⌊(H − size) / stride⌋ + 1` for the
 * window size and stride of the architecture, recorded in the model's metadata).
 *
 * Each layer kind says its ONNX nodes in its own file, the `exports.onnx` entry in ../layers/
 * (conv → `Conv` with its weights transposed to OIHW, then `Relu` unless linear; pool →
 * `MaxPool`), written in a small plain graph form ({@linkcode OnnxNode},
 * {@linkcode OnnxInitializer}); {@linkcode encodeOnnx} then encodes it with ONNX's own schema
 * (src/model/onnx/onnx.proto, compiled by protoc-gen-es into src/model/onnx/onnx_pb.ts) and
 * `@bufbuild/protobuf`. Opset 13, IR version 7 (ONNX 1.8, 2020): ONNX Runtime reads it since 1.6.
 *
 * @module
 */
import { create, toBinary } from "npm:@bufbuild/protobuf@2.17.0";
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  type TensorProto,
  TensorProto_DataType,
  TensorProtoSchema,
  type TensorShapeProto_Dimension,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "./onnx/onnx_pb.ts";
import { type ExportWeights, readExportWeights } from "./export_weights.ts";
import { writeFileAtomic } from "../io.ts";
import { windowGeometry } from "../geometry.ts";
import { type Model, variableShapes } from "./model.ts";
import type { OnnxInitializer, OnnxNode } from "../layers/layer.ts";
import { kindOf } from "../layers/table.ts";
import { VERSION } from "../version.ts";

/** The ONNX operator set the graph imports: its Conv (version 11), MaxPool (12), Relu (13). */
export const ONNX_OPSET = 13;
/** The ONNX IR version of the file: 7, the one that came with opset 13 (ONNX 1.8). */
export const ONNX_IR_VERSION = 7;
/** Name of the graph's input: images `[N, 1, H, W]` float32 in [0, 1]. */
export const ONNX_INPUT = "images";
/** Name of the graph's output: per-window vectors `[N, 15, rows, cols]`. */
export const ONNX_OUTPUT = "windows";

export type { OnnxInitializer, OnnxNode, OnnxPart, OnnxPlace } from "../layers/layer.ts";
export { hwioToOihw } from "../layers/conv.ts";

/** The whole graph in plain form: nodes from input to output, and the weights. */
export interface OnnxGraph {
  /** Nodes in order; the last writes {@linkcode ONNX_OUTPUT}. */
  nodes: OnnxNode[];
  /** All weights. */
  initializers: OnnxInitializer[];
  /** Input channels. */
  inputChannels: number;
  /** Output channels: the last layer's (15 for slidewin's nets). */
  outputChannels: number;
}

/** Channels of an exported graph's input and output. */
export interface OnnxShapeOptions {
  /** Input channels; default 1 (grey pictures). */
  inputChannels?: number;
  /**
   * Output channels, the last convolution's filters; default slidewin's 15 (another only for a
   * network that is not a localizer, such as part 1's).
   */
  outputChannels?: number;
}

/**
 * The plain graph of an architecture with its weights: each layer through its kind's
 * `exports.onnx` entry (../layers/), the last output renamed {@linkcode ONNX_OUTPUT}.
 *
 * @example
 * ```ts
 * import { onnxGraph } from "./onnx_export.ts";
 * import { buildModel, POOL_ARCH } from "./model.ts";
 * import { readExportWeights } from "./export_weights.ts";
 * const model = buildModel(POOL_ARCH);
 * const graph = onnxGraph(await readExportWeights(model));
 * console.log(graph.nodes.map((n) => n.op).join(" ")); // Conv Relu MaxPool Conv Relu MaxPool Conv Relu Conv
 * ```
 */
export function onnxGraph(
  source: Pick<ExportWeights, "arch" | "weights"> & OnnxShapeOptions,
): OnnxGraph {
  const { arch, weights } = source;
  const inputChannels = source.inputChannels ?? 1;
  // validates the architecture
  const shapes = variableShapes(arch, inputChannels, source.outputChannels);
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const got = weights.get(name)?.data.length;
    if (got !== size) {
      throw new Error(`weights: "${name}" needs ${size} values [${shape}], got ${got ?? "none"}`);
    }
  }
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  let input = ONNX_INPUT;
  let channels = inputChannels;
  for (const [index, layer] of arch.entries()) {
    const part = kindOf(layer, `arch[${index}]`).exports.onnx(layer, {
      index,
      input,
      channels,
      weights,
    });
    nodes.push(...part.nodes);
    initializers.push(...part.initializers);
    input = part.nodes.at(-1)!.output;
    channels = part.channels;
  }
  nodes[nodes.length - 1] = { ...nodes[nodes.length - 1], output: ONNX_OUTPUT };
  return { nodes, initializers, inputChannels, outputChannels: channels };
}

const dim = (d: number | string): TensorShapeProto_Dimension =>
  ({
    value: typeof d === "number"
      ? { case: "dimValue", value: BigInt(d) }
      : { case: "dimParam", value: d },
  }) as TensorShapeProto_Dimension;

function valueInfo(name: string, dims: (number | string)[], doc: string): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    docString: doc,
    type: {
      value: {
        case: "tensorType",
        value: { elemType: TensorProto_DataType.FLOAT, shape: { dim: dims.map(dim) } },
      },
    },
  });
}

function attribute(name: string, value: number | readonly number[]): AttributeProto {
  return typeof value === "number"
    ? create(AttributeProtoSchema, {
      name,
      type: AttributeProto_AttributeType.INT,
      i: BigInt(value),
    })
    : create(AttributeProtoSchema, {
      name,
      type: AttributeProto_AttributeType.INTS,
      ints: value.map(BigInt),
    });
}

function node(n: OnnxNode): NodeProto {
  return create(NodeProtoSchema, {
    name: n.output,
    opType: n.op,
    input: [...n.inputs],
    output: [n.output],
    attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
  });
}

function initializer(t: OnnxInitializer): TensorProto {
  const raw = new Uint8Array(t.data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < t.data.length; i++) view.setFloat32(4 * i, t.data[i], true);
  return create(TensorProtoSchema, {
    name: t.name,
    dims: t.dims.map(BigInt),
    dataType: TensorProto_DataType.FLOAT,
    rawData: raw, // little-endian float32, as ONNX stores raw_data
  });
}

/**
 * The ONNX file (ModelProto bytes) of an architecture with its weights: opset
 * {@linkcode ONNX_OPSET}, input {@linkcode ONNX_INPUT} `[N, C, H, W]`, output
 * {@linkcode ONNX_OUTPUT} `[N, 15, rows, cols]`, and metadata `slidewin.architecture`,
 * `slidewin.window` (size, stride, offset in input pixels) and `slidewin.output`.
 *
 * @example
 * ```ts
 * import { encodeOnnx } from "./onnx_export.ts";
 * import { buildModel } from "./model.ts";
 * import { readExportWeights } from "./export_weights.ts";
 * const bytes = encodeOnnx(await readExportWeights(buildModel()));
 * console.log(bytes.length > 117439 * 4); // true: the weights and the graph
 * ```
 */
export function encodeOnnx(
  source: Pick<ExportWeights, "arch" | "weights"> & Partial<ExportWeights> & OnnxShapeOptions,
): Uint8Array {
  const graph = onnxGraph(source);
  const geometry = windowGeometry(source.arch);
  const output = "per window: objectness logit, 10 class logits, box [top, bottom, left, right] " +
    `in the window's frame; window (row r, col c) covers input pixels from ` +
    `(${geometry.offset} + ${geometry.stride}·r, ${geometry.offset} + ${geometry.stride}·c), ` +
    `${geometry.size}×${geometry.size}`;
  const metadata: Record<string, string> = {
    "slidewin.architecture": JSON.stringify(source.arch),
    "slidewin.window": JSON.stringify(geometry),
    "slidewin.output": output,
    ...(source.extra && Object.keys(source.extra).length
      ? { "slidewin.extra": JSON.stringify(source.extra) }
      : {}),
  };
  const model = create(ModelProtoSchema, {
    irVersion: BigInt(ONNX_IR_VERSION),
    opsetImport: [{ domain: "", version: BigInt(ONNX_OPSET) }],
    producerName: "slidewin",
    producerVersion: VERSION,
    docString: "slidewin sliding-window digit localizer: images [N, C, H, W] float32 in [0, 1] " +
      `→ windows [N, ${graph.outputChannels}, rows, cols]`,
    graph: {
      name: "slidewin",
      node: graph.nodes.map(node),
      initializer: graph.initializers.map(initializer),
      input: [
        valueInfo(ONNX_INPUT, ["N", graph.inputChannels, "H", "W"], "images in [0, 1], NCHW"),
      ],
      output: [valueInfo(ONNX_OUTPUT, ["N", graph.outputChannels, "rows", "cols"], output)],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return toBinary(ModelProtoSchema, model);
}

/** Where {@linkcode exportOnnx} wrote the model. */
export interface OnnxExport {
  /** Path of the `.onnx` file. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
}

/**
 * Writes `source` (a model, or the folder / URL of a slidewin checkpoint) as one ONNX file at
 * `path`, atomically. Run it with ONNX Runtime on `[N, 1, H, W]` images in [0, 1]: its
 * `windows` output is `model.apply`'s, channels first.
 *
 * @example
 * ```ts
 * import "../backends/backend.ts";
 * import { exportOnnx } from "./onnx_export.ts";
 * import { PRETRAINED_MODEL } from "./checkpoint.ts";
 * const { path } = await exportOnnx(PRETRAINED_MODEL, "runs/example/model.onnx");
 * console.log(path); // runs/example/model.onnx
 * ```
 */
export async function exportOnnx(
  source: Model | string | URL,
  path: string,
): Promise<OnnxExport> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError('path must be a file path such as "models/default/model.onnx"');
  }
  const bytes = encodeOnnx(await readExportWeights(source));
  await writeFileAtomic(path, bytes);
  return { path, bytes: bytes.length };
}
