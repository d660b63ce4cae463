/**
 * The one place that pins third-party versions. Every module imports tfjs from here, so the
 * library and the tasks share one engine (and one set of registered kernels).
 *
 * @module
 */
export * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
