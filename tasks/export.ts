/**
 * `deno task export` — writes a slidewin checkpoint as a standard TensorFlow.js LayersModel
 * (`model.json` + `group1-shard1of1.bin`) that `tf.loadLayersModel(url)` loads in any tfjs app
 * (src/model/layers_export.ts). Default: the pretrained model → `models/default/layers/`.
 */
import { helpText, parseFlags, runMain } from "../src/cli.ts";
import { useBackend } from "../src/backends/backend.ts";
import { PRETRAINED_MODEL } from "../src/model/checkpoint.ts";
import { exportLayersModel } from "../src/model/layers_export.ts";

const FLAGS = {
  /** Checkpoint folder (model.json + weights.bin); default the pretrained model. */
  model: { default: "", help: "Checkpoint folder to export (default: models/default)" },
  /** Output folder. */
  out: { default: "", help: "Output folder (default: <model>/layers)" },
};

if (import.meta.main) {
  await runMain(async () => {
    const flags = parseFlags(Deno.args, FLAGS);
    if (!flags) {
      console.log(helpText(
        "deno task export",
        "Writes a checkpoint as a tfjs LayersModel (model.json + weight shard) for " +
          "tf.loadLayersModel.",
        FLAGS,
      ));
      return 0;
    }
    await useBackend("cpu");
    const source = flags.model || PRETRAINED_MODEL;
    const out = flags.out ||
      (flags.model ? `${flags.model.replace(/\/+$/, "")}/layers` : "models/default/layers");
    const written = await exportLayersModel(source, out);
    console.log(`Wrote ${written.json} and ${written.weights} (${written.bytes} bytes)`);
  });
}
