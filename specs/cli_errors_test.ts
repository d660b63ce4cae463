import assert from "node:assert/strict";
import { encodePng } from "./image_fixtures.ts";

// The user-facing tasks, run as subprocesses: bad flags → one `error:` line naming the flag, exit 2, nothing
// written; bad MNIST files or checkpoints → one line naming the file and the problem, exit 1;
// `--help` → exit 0 with every flag and its default.
type Task = "train" | "visualize" | "sliding" | "bench" | "detect" | "evaluate" | "read";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(task: Task, args: string[]): Promise<Result> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tasks/${task}.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    // auto by the table's order: no probe of the backends, nothing written to the user's cache
    env: { SLIDEWIN_DEBUG: "0", SLIDEWIN_AUTO: "order" },
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** Runs `jobs` `width` at a time (3: the 2 cores stay busy while a task starts). */
async function all<T>(jobs: (() => Promise<T>)[], width = 3): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]();
      }
    }),
  );
  return out;
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** The one error line of `r` (asserting there is exactly one and no stack trace). */
function errorLine(r: Result, what: string): string {
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("error:") || /^\s+at /.test(l));
  assert.equal(lines.length, 1, `${what}: one error line and no stack trace, got:\n${r.stderr}`);
  return lines[0];
}

// Where each task writes: the --out value for a temp dir.
const OUT: Record<Task, (tmp: string) => string> = {
  train: (t) => `${t}/out`,
  visualize: (t) => `${t}/out/p.png`,
  sliding: (t) => `${t}/out`,
  bench: (t) => `${t}/out`,
  detect: (t) => `${t}/out/d.png`,
  evaluate: (t) => `${t}/out`,
  read: (t) => `${t}/out/r.png`,
};

// [task, args, the flag the message must name]
const USAGE: [Task, string[], string][] = [];
const common = (task: Task, valued: string, positive: string) => {
  USAGE.push(
    [task, ["--bogus"], "--bogus"],
    [task, ["--bogus=1"], "--bogus"],
    [task, [valued], valued],
    [task, [`${positive}=abc`], positive],
    [task, [`${positive}=0`], positive],
    [task, [`${positive}=-3`], positive],
    [task, ["stray"], "stray"],
  );
  if (task !== "bench") USAGE.push([task, ["--backend=gpu"], "--backend"]);
};
common("train", "--epochs", "--epochs");
USAGE.push(
  ["train", ["--batch-size=0"], "--batch-size"],
  ["train", ["--batch-size=-8"], "--batch-size"],
  ["train", ["--batch-size=2.5"], "--batch-size"],
  ["train", ["--lr=0"], "--lr"],
  ["train", ["--lr=-1e-3"], "--lr"],
  ["train", ["--lr=abc"], "--lr"],
  ["train", ["--epochs=1.5"], "--epochs"],
  ["train", ["--train-size=0"], "--train-size"],
  ["train", ["--resume=maybe"], "--resume"],
  ["train", ["--select=best"], "--select"],
  ["train", ["--vote=2"], "--vote"],
  ["train", ["--sampling=shuffle"], "--sampling"],
  ["train", ["--preset=huge"], "--preset"],
  ["train", ["--budget=15 minutes"], "--budget"],
  ["train", ["--budget=15"], "--budget"],
);
common("visualize", "--seed", "--cols");
USAGE.push(
  ["visualize", ["--scale=0"], "--scale"],
  ["visualize", ["--select=best"], "--select"],
  ["visualize", ["--vote=1.5"], "--vote"],
  ["visualize", ["--vote=abc"], "--vote"],
);
common("sliding", "--sizes", "--batch");
USAGE.push(["sliding", ["--sizes=10"], "--sizes"], ["sliding", ["--sizes=64,abc"], "--sizes"]);
common("bench", "--steps", "--batch-size");
USAGE.push(["bench", ["--backends=gpu"], "--backends"]);
common("detect", "--seed", "--size");
USAGE.push(
  ["detect", ["--model=models/default", "--size=20"], "--size"],
  ["detect", ["--max-detections=0"], "--max-detections"],
  ["detect", ["--score-threshold=2"], "--score-threshold"],
  ["detect", ["--vote=-1"], "--vote"],
  ["detect", ["--select=objectness"], "--select"],
);
common("read", "--seed", "--size");
USAGE.push(
  ["detect", ["--polarity=up"], "--polarity"],
  ["detect", ["--invert", "--polarity=light-ink"], "--invert"],
  ["read", ["--polarity=up"], "--polarity"],
  ["read", ["--invert", "--polarity=light-ink"], "--invert"],
  ["read", ["--number-gap=-1"], "--number-gap"],
  ["read", ["--min-score=2"], "--min-score"],
  ["read", ["--line-overlap=abc"], "--line-overlap"],
  ["read", ["--normalize=maybe"], "--normalize"],
  ["read", ["--model=models/default", "--size=20"], "--size"],
);
common("evaluate", "--count", "--count");
USAGE.push(
  ["evaluate", ["--model=models/default", "--size=39"], "--size"],
  ["evaluate", ["--batch=-1"], "--batch"],
);

Deno.test("every task: bad flags → one line naming the flag, exit 2, nothing written", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const results = await all(USAGE.map(([task, args], i) => async () => {
      const dir = `${tmp}/${i}`;
      // --out first: the bad flag is last (so "--epochs" really has no value).
      const r = await run(task, [`--out=${OUT[task](dir)}`, ...args]);
      return { r, wrote: await exists(dir) };
    }));
    USAGE.forEach(([task, args, flag], i) => {
      const { r, wrote } = results[i];
      const what = `${task} ${args.join(" ")}`;
      assert.equal(r.code, 2, `${what}: exit code (stderr: ${r.stderr})`);
      assert.ok(errorLine(r, what).includes(flag), `${what}: names ${flag}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: stderr is one line`);
      assert.ok(!wrote, `${what}: wrote to --out`);
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("every task: --help exits 0 and lists each flag with its default", async () => {
  const tasks: Task[] = ["train", "visualize", "sliding", "bench", "detect", "evaluate", "read"];
  const results = await all(tasks.map((t) => () => run(t, ["--help"])));
  tasks.forEach((task, i) => {
    const r = results[i];
    assert.equal(r.code, 0, `${task} --help`);
    const flags = r.stdout.split("\n").filter((l) => /^\s+--[a-z]/.test(l));
    assert.ok(flags.length >= 5, `${task}: ${r.stdout}`);
    for (const line of flags) {
      if (/^\s+--help\b/.test(line)) continue;
      assert.match(line, /\(default: [^)]*\)|default:/, `${task}: ${line}`);
    }
    assert.ok(flags.some((l) => /--out\b/.test(l)), `${task} lists --out`);
  });
});

/** fixtures/mnist copied to a temp dir, then changed by `mutate`. */
async function mnistCopy(tmp: string, name: string, mutate: (dir: string) => Promise<void>) {
  const dir = `${tmp}/${name}`;
  await Deno.mkdir(dir, { recursive: true });
  for await (const e of Deno.readDir("fixtures/mnist")) {
    await Deno.copyFile(`fixtures/mnist/${e.name}`, `${dir}/${e.name}`);
  }
  await mutate(dir);
  return dir;
}

async function patch(path: string, change: (bytes: Uint8Array) => Uint8Array) {
  await Deno.writeFile(path, change(await Deno.readFile(path)));
}

Deno.test("bad MNIST files → one line naming the file and the problem, exit 1", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const images = "t10k-images-idx3-ubyte", labels = "t10k-labels-idx1-ubyte";
    const cases: [string, string, RegExp][] = [
      [`${tmp}/absent`, "train-images-idx3-ubyte", /not found/],
      [
        await mnistCopy(tmp, "magic", (d) =>
          patch(`${d}/${images}`, (b) => {
            b[3] = 0x99;
            return b;
          })),
        images,
        /magic number/,
      ],
      [
        await mnistCopy(tmp, "truncated", (d) => patch(`${d}/${images}`, (b) => b.slice(0, -100))),
        images,
        /truncated/,
      ],
      [
        await mnistCopy(tmp, "count", (d) =>
          patch(`${d}/${labels}`, (b) => {
            const c = b.slice(0, -1);
            new DataView(c.buffer).setUint32(4, c.length - 8);
            return c;
          })),
        labels,
        /has 31 labels but .*32 images/,
      ],
      [
        await mnistCopy(tmp, "label", (d) =>
          patch(`${d}/${labels}`, (b) => {
            b[8 + 5] = 12;
            return b;
          })),
        labels,
        /label at index 5 is 12, labels must be 0–9/,
      ],
      [
        await mnistCopy(tmp, "gzip", (d) =>
          patch(`${d}/train-images-idx3-ubyte.gz`, (b) => {
            for (let i = 40; i < b.length - 20; i += 7) b[i] ^= 0x5a;
            return b;
          })),
        "train-images-idx3-ubyte.gz",
        /cannot be read/,
      ],
    ];
    const jobs: [Task, string, string[], string, RegExp][] = [];
    cases.forEach(([dir, file, problem], i) => {
      const out = `${tmp}/out${i}`;
      jobs.push([
        "train",
        out,
        ["--workers=0", `--mnist=${dir}`, `--out=${out}`],
        file,
        problem,
      ]);
      if (i % 2 === 0) {
        jobs.push([
          "evaluate",
          out,
          ["--model=models/default", `--mnist=${dir}`, `--out=${out}`],
          file,
          problem,
        ]);
      } else {
        jobs.push([
          "detect",
          out,
          ["--model=models/default", `--mnist=${dir}`, `--out=${out}/d.png`],
          file,
          problem,
        ]);
      }
    });
    const results = await all(jobs.map(([task, , args]) => () => run(task, args)));
    for (let i = 0; i < jobs.length; i++) {
      const [task, out, args, file, problem] = jobs[i];
      const r = results[i];
      const what = `${task} ${args.join(" ")}`;
      assert.equal(r.code, 1, `${what}: exit code (stderr: ${r.stderr})`);
      const line = errorLine(r, what);
      assert.ok(line.includes(file), `${what}: names ${file}: ${line}`);
      assert.match(line, problem, what);
      assert.ok(!(await exists(out)), `${what}: wrote to --out`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("missing or corrupt checkpoints → one line naming the file and the problem, exit 1", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const copy = async (name: string, mutate: (dir: string) => Promise<void>) => {
      const dir = `${tmp}/${name}`;
      await Deno.mkdir(dir);
      for (const f of ["model.json", "weights.bin"]) {
        await Deno.copyFile(`models/default/${f}`, `${dir}/${f}`);
      }
      await mutate(dir);
      return dir;
    };
    const cases: [string, string, RegExp][] = [
      [`${tmp}/absent`, "model.json", /No (trained )?model/],
      [
        await copy("notjson", (d) => Deno.writeTextFile(`${d}/model.json`, "{ not json")),
        "model.json",
        /not valid JSON/,
      ],
      [
        await copy("short", (d) => patch(`${d}/weights.bin`, (b) => b.slice(0, 1000))),
        "weights.bin",
        /holds 1000 bytes but model.json lists \d+/,
      ],
      [
        await copy("noweights", (d) => Deno.remove(`${d}/weights.bin`)),
        "weights.bin",
        /not found/,
      ],
      [
        await copy("arch", async (d) => {
          const json = JSON.parse(await Deno.readTextFile(`${d}/model.json`));
          json.architecture[0].filters += 1;
          await Deno.writeTextFile(`${d}/model.json`, JSON.stringify(json));
        }),
        "model.json",
        /architecture/,
      ],
    ];
    const jobs: [Task, string, string[], string, RegExp][] = [];
    cases.forEach(([dir, file, problem], i) => {
      const out = `${tmp}/out${i}`;
      jobs.push(["visualize", out, [`--model=${dir}`, `--out=${out}/p.png`], file, problem]);
      jobs.push(["detect", out, [`--model=${dir}`, `--out=${out}/d.png`], file, problem]);
      jobs.push(["evaluate", out, [`--model=${dir}`, `--out=${out}`], file, problem]);
    });
    const results = await all(jobs.map(([task, , args]) => () => run(task, args)));
    for (let i = 0; i < jobs.length; i++) {
      const [task, out, args, file, problem] = jobs[i];
      const r = results[i];
      const what = `${task} ${args.join(" ")}`;
      assert.equal(r.code, 1, `${what}: exit code (stderr: ${r.stderr})`);
      const line = errorLine(r, what);
      assert.ok(line.includes(file), `${what}: names ${file}: ${line}`);
      assert.match(line, problem, what);
      assert.ok(!(await exists(out)), `${what}: wrote to --out`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("detect and read: bad --image files → one line naming the file, nothing written", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const png = await Deno.readFile("models/default/curves.png");
    const files: Record<string, Uint8Array> = {
      "text.png": new TextEncoder().encode("not a picture at all"),
      "cut.png": png.subarray(0, png.length - 100),
      "empty.jpg": new Uint8Array(),
      "doc.pdf": new TextEncoder().encode("%PDF-1.4 …"),
    };
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${tmp}/${name}`, bytes);
    }
    // [file, problem, exit code]
    const cases: [string, RegExp, number][] = [
      [`${tmp}/absent.png`, /Cannot read .*absent\.png \(no such file\)/, 1],
      [`${tmp}/text.png`, /text\.png is not a PNG or JPEG picture/, 1],
      [`${tmp}/cut.png`, /cut\.png is a truncated PNG/, 1],
      [`${tmp}/empty.jpg`, /empty\.jpg is empty \(0 bytes\)/, 1],
      [
        `${tmp}/doc.pdf`,
        /doc\.pdf is a PDF document, which is not read; convert it to PNG or JPEG/,
        1,
      ],
      [tmp, /Cannot read .* \(it is a folder\)/, 1],
    ];
    const jobs: [Task, string, string[], RegExp, number][] = [];
    cases.forEach(([file, problem, code], i) => {
      for (const task of ["detect", "read"] as const) {
        const out = `${tmp}/out-${task}-${i}`;
        jobs.push([task, out, [`--image=${file}`, `--out=${out}/x.png`], problem, code]);
      }
    });
    // a picture smaller than the window is bad usage
    const small = `${tmp}/small.png`;
    await Deno.writeFile(
      small,
      await encodePng({ width: 30, height: 20, colorType: 0, depth: 8, sample: () => [0] }),
    );
    for (const task of ["detect", "read"] as const) {
      jobs.push([
        task,
        `${tmp}/out-${task}-small`,
        [`--image=${small}`, `--out=${tmp}/out-${task}-small/x.png`],
        /small\.png is 30×20; it must be at least 40×40/,
        2,
      ]);
    }
    const results = await all(jobs.map(([task, , args]) => () => run(task, args)));
    for (let i = 0; i < jobs.length; i++) {
      const [task, out, args, problem, code] = jobs[i];
      const r = results[i];
      const what = `${task} ${args.join(" ")}`;
      assert.equal(r.code, code, `${what}: exit code (stderr: ${r.stderr})`);
      assert.match(errorLine(r, what), problem, what);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: stderr is one line`);
      assert.ok(!(await exists(out)), `${what}: wrote to --out`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
