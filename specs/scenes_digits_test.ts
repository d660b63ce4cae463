/** makeScenes with `digits` makes multi-digit scenes; without it, single-digit ones as before. */
import assert from "node:assert/strict";
import { useBackend } from "../src/backends/backend.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { makeScenes } from "../src/data/scenes.ts";

await useBackend("wasm");
const mnist = await loadMnist({ dir: "fixtures/mnist" });

Deno.test("makeScenes(..., { digits }) places several digits, each with its own box", async () => {
  const multi = await makeScenes(mnist.test, { count: 4, seed: 3, size: 128, digits: [2, 4] });
  assert.deepEqual(multi.images.shape, [4, 128, 128, 1]);
  for (const objects of multi.objects) {
    assert.ok(objects.length >= 2 && objects.length <= 4, `${objects.length} digits`);
    for (const o of objects) {
      const [top, bottom, left, right] = o.box;
      assert.ok(
        0 <= top && top < bottom && bottom <= 128 && 0 <= left && left < right && right <= 128,
      );
    }
  }
  multi.images.dispose();
  const single = await makeScenes(mnist.test, { count: 4, seed: 3 });
  assert.deepEqual(single.images.shape, [4, 64, 64, 1]);
  assert.equal(single.boxes.length, 16);
  single.images.dispose();
});
