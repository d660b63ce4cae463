import assert from "node:assert/strict";
import {
  autoCacheFile,
  autoModeFromEnv,
  autoNotice,
  keyText,
  pickFastest,
  readAutoCache,
  writeAutoCache,
} from "../src/backends/auto.ts";
import {
  autoKey,
  type Backend,
  BACKENDS,
  type ConvEngine,
  decideAuto,
  type Prober,
  type ProbeResult,
  useBackend,
} from "../src/backends/backend.ts";
import { oneDnn } from "../src/backends/onednn/dnnl.ts";
import { openBlas } from "../src/backends/native/openblas.ts";
import { getThreadsCount } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { trainingProbe } from "../src/training/probe.ts";
import { VERSION } from "../src/version.ts";
import { S8_ARCH } from "../src/model/model.ts";

const native = BACKENDS.find((b) => b.name === "native")!;
const wasm = BACKENDS.find((b) => b.name === "wasm")!;

/** A prober that returns fixed rates and counts its calls. */
function fakeProber(rates: Record<string, number | string>, about = "fake") {
  const calls: string[][] = [];
  const prober: Prober = {
    about,
    measure(candidates) {
      calls.push(candidates.map((b) => b.name));
      return Promise.resolve(candidates.map((b): ProbeResult => {
        const r = rates[b.name];
        return typeof r === "string"
          ? { backend: b.name, error: r }
          : { backend: b.name, imagesPerSecond: r, steps: 3 };
      }));
    },
  };
  return { prober, calls };
}

const rate = (backend: string, imagesPerSecond: number): ProbeResult => ({
  backend,
  imagesPerSecond,
});

Deno.test("pickFastest: the highest rate wins; ties go to the table's order", () => {
  assert.equal(pickFastest([rate("native", 2010), rate("wasm", 930)]), "native");
  assert.equal(pickFastest([rate("native", 900), rate("wasm", 1200)]), "wasm");
  // exact tie, and within 5 %: the earlier one
  assert.equal(pickFastest([rate("native", 1000), rate("wasm", 1000)]), "native");
  assert.equal(pickFastest([rate("native", 960), rate("wasm", 1000)]), "native");
  // 6 % apart is no tie
  assert.equal(pickFastest([rate("native", 940), rate("wasm", 1000)]), "wasm");
  assert.equal(pickFastest([rate("native", 940), rate("wasm", 1000)], { tie: 0.1 }), "native");
  assert.equal(pickFastest([rate("native", 999), rate("wasm", 1000)], { tie: 0 }), "wasm");
});

Deno.test("pickFastest: failures, software GPUs and non-rates are never picked", () => {
  assert.equal(
    pickFastest([
      { backend: "webgpu", imagesPerSecond: 9000, software: true },
      { backend: "native", error: "OpenBLAS crashed" },
      rate("wasm", 500),
    ]),
    "wasm",
  );
  assert.equal(pickFastest([rate("webgpu", NaN), rate("native", 0), rate("wasm", 3)]), "wasm");
  assert.equal(pickFastest([rate("native", -1), rate("wasm", Infinity)]), undefined);
  assert.equal(pickFastest([{ backend: "native", error: "x" }]), undefined);
  assert.equal(pickFastest([]), undefined);
  assert.equal(pickFastest([rate("webgpu", 5000), rate("native", 2000)]), "webgpu");
});

Deno.test("pickFastest: a CPU rate measured on one core counts once per training thread", () => {
  const perCore = (backend: string, ips: number, threads: number): ProbeResult => ({
    backend,
    imagesPerSecond: ips,
    threads,
  });
  // a GPU at 1 500 img/s loses to 900 img/s per core on 2 cores (1 800), wins against 1 core
  assert.equal(pickFastest([rate("webgpu", 1500), perCore("native", 900, 2)]), "native");
  assert.equal(pickFastest([rate("webgpu", 1500), perCore("native", 900, 1)]), "webgpu");
  // between CPU backends with the same threads the per-core rates decide
  assert.equal(pickFastest([perCore("native", 400, 16), perCore("wasm", 500, 16)]), "wasm");
  assert.match(
    autoNotice({ backend: "native", how: "probe", results: [perCore("native", 900, 2)] }),
    /^auto: native \(probe: native 900 img\/s per thread ×2\)$/,
  );
});

Deno.test("the cache folder per OS", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(
    autoCacheFile(env({ HOME: "/home/me" }), "linux"),
    "/home/me/.cache/slidewin/auto.json",
  );
  assert.equal(
    autoCacheFile(env({ HOME: "/home/me", XDG_CACHE_HOME: "/x/cache/" }), "linux"),
    "/x/cache/slidewin/auto.json",
  );
  assert.equal(
    autoCacheFile(env({ HOME: "/Users/me" }), "darwin"),
    "/Users/me/Library/Caches/slidewin/auto.json",
  );
  assert.equal(
    autoCacheFile(env({ LOCALAPPDATA: "C:\\Users\\me\\AppData\\Local" }), "windows"),
    "C:\\Users\\me\\AppData\\Local\\slidewin\\auto.json",
  );
  assert.equal(autoCacheFile(env({}), "linux"), undefined);
});

Deno.test("SLIDEWIN_AUTO: probe, order, or a one-line error", () => {
  const before = Deno.env.get("SLIDEWIN_AUTO");
  try {
    Deno.env.set("SLIDEWIN_AUTO", "order");
    assert.equal(autoModeFromEnv(), "order");
    Deno.env.set("SLIDEWIN_AUTO", "probe");
    assert.equal(autoModeFromEnv(), "probe");
    Deno.env.set("SLIDEWIN_AUTO", "fastest");
    assert.throws(() => autoModeFromEnv(), /^Error: SLIDEWIN_AUTO="fastest" .*probe or order$/);
    Deno.env.delete("SLIDEWIN_AUTO");
    assert.equal(autoModeFromEnv(), undefined);
  } finally {
    if (before === undefined) Deno.env.delete("SLIDEWIN_AUTO");
    else Deno.env.set("SLIDEWIN_AUTO", before);
  }
});

Deno.test("decideAuto: a miss probes and caches; a hit does not probe; a changed key probes", async () => {
  const dir = await Deno.makeTempDir();
  const cacheFile = `${dir}/slidewin/auto.json`;
  const candidates = [native, wasm];
  const { prober, calls } = fakeProber({ native: 900, wasm: 1200 });
  const first = await decideAuto({ probe: prober, cacheFile, candidates, mode: "probe" });
  assert.deepEqual(calls, [["native", "wasm"]]);
  assert.equal(first.backend, "wasm");
  assert.equal(first.how, "probe");
  assert.equal(first.note, undefined);
  assert.match(
    autoNotice(first),
    new RegExp(
      `^auto: wasm \\(probe( [0-9.]+ s)?: native 900 img/s, wasm 1 200 img/s(, webgpu software GPU, skipped)?; cached in ${cacheFile}\\)$`,
    ),
  );
  const hit = await decideAuto({ probe: prober, cacheFile, candidates, mode: "probe" });
  assert.equal(calls.length, 1, "a cache hit must not probe");
  assert.equal(hit.how, "cache");
  assert.equal(hit.backend, "wasm");
  assert.deepEqual(hit.results, first.results);
  assert.match(
    autoNotice(hit),
    /^auto: wasm \(probe of \d{4}-\d\d-\d\d: native 900 img\/s, wasm 1 200 img\/s(, webgpu software GPU, skipped)?; from /,
  );
  // another architecture or batch (the prober's `about`) is another key: measured again
  const other = fakeProber({ native: 2000, wasm: 1200 }, "another model");
  const d2 = await decideAuto({ probe: other.prober, cacheFile, candidates, mode: "probe" });
  assert.equal(other.calls.length, 1);
  assert.equal(d2.backend, "native");
  // both decisions are kept
  const saved = JSON.parse(await Deno.readTextFile(cacheFile));
  assert.equal(saved.entries.length, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the key holds every candidate's facts (library, its settings) and names machine and versions", async () => {
  const before = Deno.env.get("OPENBLAS_CORETYPE");
  try {
    Deno.env.set("OPENBLAS_CORETYPE", "Haswell");
    const a = await autoKey("p", [native, wasm]);
    Deno.env.set("OPENBLAS_CORETYPE", "SkylakeX");
    const b = await autoKey("p", [native, wasm]);
    assert.notEqual(keyText(a), keyText(b));
    assert.equal(a["native.OPENBLAS_CORETYPE"], "Haswell");
    for (const [k, v] of Object.entries(native.cacheFacts())) {
      if (k !== "OPENBLAS_CORETYPE") assert.equal(a[`native.${k}`], v);
    }
    assert.equal(a.slidewin, VERSION);
    assert.equal(a.cores, navigator.hardwareConcurrency);
    assert.equal(a.os, `${Deno.build.os}/${Deno.build.arch}`);
    assert.equal(typeof a.tfjs, "string");
    assert.equal(a.candidates, "native,wasm");
    assert.notEqual(keyText(a), keyText(await autoKey("q", [native, wasm])));
    // oneDNN's library and OpenMP settings key the decision too
    const onednn = BACKENDS.find((x) => x.name === "onednn")!;
    const omp = Deno.env.get("OMP_NUM_THREADS");
    Deno.env.set("OMP_NUM_THREADS", "3");
    const c = await autoKey("p", [onednn, native, wasm]);
    if (omp === undefined) Deno.env.delete("OMP_NUM_THREADS");
    else Deno.env.set("OMP_NUM_THREADS", omp);
    assert.equal(c["onednn.OMP_NUM_THREADS"], "3");
    assert.equal(typeof c["onednn.library"], "string");
    // field order does not matter
    assert.equal(keyText({ x: 1, y: "2" }), keyText({ y: "2", x: 1 }));
  } finally {
    if (before === undefined) Deno.env.delete("OPENBLAS_CORETYPE");
    else Deno.env.set("OPENBLAS_CORETYPE", before);
  }
});

Deno.test("a corrupt cache is measured again and rewritten; an unwritable folder still decides", async () => {
  const dir = await Deno.makeTempDir();
  const cacheFile = `${dir}/auto.json`;
  const candidates = [native, wasm];
  for (const junk of ["{not json", '{"format":1,"entries":"x"}', "[]", ""]) {
    await Deno.writeTextFile(cacheFile, junk);
    const { prober, calls } = fakeProber({ native: 2000, wasm: 900 });
    const d = await decideAuto({ probe: prober, cacheFile, candidates, mode: "probe" });
    assert.equal(calls.length, 1, `re-probed after ${JSON.stringify(junk)}`);
    assert.equal(d.backend, "native");
    assert.equal(d.note, undefined);
    assert.equal(
      (await readAutoCache(cacheFile, await autoKey("fake", [native, wasm])))?.backend,
      "native",
    );
  }
  // a cache path under a regular file cannot be created
  await Deno.writeTextFile(`${dir}/file`, "x");
  const { prober } = fakeProber({ native: 2000, wasm: 900 });
  const d = await decideAuto({
    probe: prober,
    cacheFile: `${dir}/file/slidewin/auto.json`,
    candidates,
    mode: "probe",
  });
  assert.equal(d.backend, "native");
  assert.match(d.note ?? "", /^not cached \(/);
  assert.match(autoNotice(d), /; not cached \(.*\)\)$/);
  assert.equal(autoNotice(d).split("\n").length, 1);
  assert.match(
    (await writeAutoCache(`${dir}/file/x.json`, { a: 1 }, { backend: "wasm", results: [] }))!,
    /^not cached/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("decideAuto: failed probes are skipped; all failed, order mode or no prober: table order", async () => {
  const candidates = [native, wasm];
  const broken = fakeProber({ native: "OpenBLAS crashed", wasm: 300 });
  const d = await decideAuto({ probe: broken.prober, cacheFile: null, candidates, mode: "probe" });
  assert.equal(d.backend, "wasm");
  assert.match(
    autoNotice(d),
    /native failed: OpenBLAS crashed, wasm 300 img\/s(, webgpu software GPU, skipped)?; not cached\)$/,
  );
  const dead = fakeProber({ native: "x", wasm: "y" });
  const d2 = await decideAuto({ probe: dead.prober, cacheFile: null, candidates, mode: "probe" });
  assert.equal(d2.backend, "native");
  assert.equal(d2.how, "order");
  assert.equal(d2.note, "every probe failed");
  const labelled = { ...fakeProber({ native: 2000, wasm: 900 }).prober, label: "wide, batch 32" };
  const dl = await decideAuto({ probe: labelled, cacheFile: null, candidates, mode: "probe" });
  assert.match(
    autoNotice(dl),
    /^auto: native \(probe of wide, batch 32, [\d.]+ s: native 2 000 img\/s/,
  );
  const quiet = fakeProber({ native: 1, wasm: 2 });
  const d3 = await decideAuto({ probe: quiet.prober, cacheFile: null, candidates, mode: "order" });
  assert.equal(quiet.calls.length, 0);
  assert.deepEqual([d3.backend, d3.how], ["native", "order"]);
  assert.equal(autoNotice(d3), "auto: native (table order: asked for)");
  const d4 = await decideAuto({ cacheFile: null, candidates });
  assert.equal(autoNotice(d4), "auto: native (table order: no probe given)");
  // one candidate: nothing to measure
  const d5 = await decideAuto({ probe: quiet.prober, cacheFile: null, candidates: [wasm] });
  assert.equal(quiet.calls.length, 0);
  assert.equal(d5.backend, "wasm");
});

Deno.test("the real probe: a few training steps per candidate, a throwing one skipped with its reason", async () => {
  const broken = { ...wasm, name: "broken" } as unknown as typeof wasm;
  const probe = trainingProbe({ arch: S8_ARCH, batchSize: 8, budgetMs: 1000, steps: 3 });
  assert.equal(probe.label, "s8, batch 8", "the probe says which architecture it measures");
  assert.equal(trainingProbe().label, "wide, batch 32", "by default what train trains");
  assert.match(
    probe.about,
    /^training steps after a warm-up round, batch 8, \d+ threads, \[\{"kind":"conv"/,
  );
  const results = await probe.measure([wasm, broken]);
  assert.equal(results.length, 2);
  assert.equal(results[0].backend, "wasm");
  assert.ok(results[0].imagesPerSecond! > 0 && Number.isFinite(results[0].imagesPerSecond));
  assert.ok(results[0].steps! >= 2 && results[0].steps! <= 3);
  const cores = navigator.hardwareConcurrency ?? 1;
  assert.equal(results[0].threads ?? 1, cores, "wasm trains on every core (the pool)");
  assert.match(probe.about, new RegExp(`, ${cores} threads, `));
  assert.equal(results[1].backend, "broken");
  assert.match(results[1].error!, /^Unknown backend "broken"/);
  assert.equal(pickFastest(results), "wasm");
});

/**
 * A spy of `backend`: counts its holds on one thread, and for a backend that trains on its own
 * convolution engine, records the thread count its library has at every convolution.
 */
function threadSpy(backend: Backend, threadsNow: () => number) {
  const seen: number[] = [];
  let holds = 0, held = 0;
  const spy = {
    ...backend,
    singleThreaded() {
      holds++;
      held++;
      const release = backend.singleThreaded();
      return () => {
        held--;
        release();
      };
    },
  } as Backend;
  if (backend.method === "native") {
    (spy as { convEngine(): ConvEngine | null }).convEngine = () => {
      const engine = backend.convEngine()!;
      return {
        name: engine.name,
        conv(g) {
          const k = engine.conv(g);
          return {
            forward: (io) => (seen.push(threadsNow()), k.forward(io)),
            backwardData: (io) => (seen.push(threadsNow()), k.backwardData(io)),
            backwardWeights: (io) => (seen.push(threadsNow()), k.backwardWeights(io)),
          };
        },
      };
    };
  }
  return { spy, seen, holds: () => holds, held: () => held };
}

Deno.test("the probe times every CPU candidate on one thread and counts its rate per thread", async () => {
  const cpu: { backend: Backend; threads: () => number }[] = [
    { backend: BACKENDS.find((b) => b.name === "onednn")!, threads: () => oneDnn()!.threads() },
    { backend: native, threads: () => openBlas()!.threads() },
    { backend: wasm, threads: () => getThreadsCount() },
  ];
  for (const { backend, threads } of cpu) {
    if (await backend.unavailable()) continue; // its library is not installed here
    await useBackend(backend.name);
    const before = threads();
    const { spy, seen, holds, held } = threadSpy(backend, threads);
    const probe = trainingProbe({
      arch: S8_ARCH,
      batchSize: 4,
      budgetMs: 200,
      steps: 2,
      threads: 2,
    });
    const [result] = await probe.measure([spy]);
    assert.ok(result.imagesPerSecond! > 0, `${backend.name}: ${result.error}`);
    assert.equal(result.threads, 2, `${backend.name}: the rate counts once per thread`);
    assert.ok(holds() >= 2, `${backend.name}: held on one thread for the warm-up and the timing`);
    assert.equal(held(), 0, `${backend.name}: released after`);
    if (backend.method === "native") {
      assert.ok(seen.length > 0, `${backend.name}: convolutions ran on its engine`);
      assert.deepEqual([...new Set(seen)], [1], `${backend.name}: every convolution on 1 thread`);
    } else assert.equal(threads(), 1, `${backend.name} runs on one thread`);
    assert.equal(threads(), before, `${backend.name}: its thread count is back`);
  }
});

Deno.test("VERSION is deno.json's version", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(VERSION, config.version);
});

const TRAIN = new URL("../tasks/train.ts", import.meta.url).pathname;
const MNIST = new URL("../fixtures/mnist", import.meta.url).pathname;

async function train(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("deno task train: auto probes once, says why, records it in config.json; --help probes nothing", async () => {
  const dir = await Deno.makeTempDir();
  // Deno's own cache lives in XDG_CACHE_HOME too: keep using the one we have
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const denoDir = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
  const env = { XDG_CACHE_HOME: `${dir}/cache`, DENO_DIR: denoDir, SLIDEWIN_AUTO: "probe" };
  const help = await train(["--help"], env);
  assert.equal(help.code, 0);
  await assert.rejects(() => Deno.stat(`${dir}/cache`), Deno.errors.NotFound);
  const tiny = [
    "--epochs=1",
    "--train-size=8",
    "--val-size=8",
    "--batch-size=8",
    "--workers=0",
    `--mnist=${MNIST}`,
  ];
  const r1 = await train([...tiny, `--out=${dir}/a`], env);
  assert.equal(r1.code, 0, r1.stderr);
  const candidates = (await decideAuto({ mode: "order", cacheFile: null })).backend;
  const line = r1.stdout.split("\n").find((l) => l.startsWith("auto: "));
  assert.ok(line, r1.stdout);
  const config = JSON.parse(await Deno.readTextFile(`${dir}/a/config.json`));
  assert.equal(config.backendChoice.notice, line);
  assert.equal(config.backendChoice.backend, config.backend);
  const file = `${dir}/cache/slidewin/auto.json`;
  if (config.backendChoice.how === "probe") {
    // two or more candidates here: measured, and cached for the next run
    assert.match(
      line,
      new RegExp(
        `^auto: [\\w-]+ \\(probe of wide, batch 8, [0-9.]+ s: .* img/s.*; cached in ${file}\\)$`,
      ),
    );
    const r2 = await train([...tiny, `--out=${dir}/b`], env);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(
      r2.stdout,
      new RegExp(`^auto: ${config.backend} \\(probe of .*; from ${file}\\)$`, "m"),
    );
  } else {
    // a single candidate (wasm without OpenBLAS): nothing to measure
    assert.equal(config.backend, candidates);
    assert.match(line, /\(table order: only candidate\)$/);
  }
  await Deno.remove(dir, { recursive: true });
});
