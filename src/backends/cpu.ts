/**
 * Backend "cpu": tfjs's plain-JavaScript kernels. Slow (seconds per training step), but the
 * reference the specs hold every other backend to. Never picked by `auto`.
 *
 * @module
 */
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import { tf } from "../deps.ts";
import { type BackendDescriptor, NO_HOLD, trySetBackend } from "./descriptor.ts";

/** The cpu backend. */
export const cpu: BackendDescriptor<"cpu", true> = {
  name: "cpu",
  summary: "plain JavaScript (tfjs-backend-cpu): slow, the reference",
  method: "tape",
  threads: true,
  device: "cpu",
  fast: false,
  unavailable: () => Promise.resolve(undefined),
  pickedByAuto: () => Promise.resolve(false),
  async activate() {
    if (!(await trySetBackend(tf, "cpu"))) {
      throw new Error(`Backend "cpu" could not be initialised; try --backend=wasm or cpu`);
    }
  },
  describe: () => "cpu (plain JavaScript)",
  singleThreaded: NO_HOLD,
  cacheFacts: () => ({}),
};
