/**
 * OpenBLAS never runs a slow kernel set by accident (src/backends/native/cpu_core.ts, src/backends/native/openblas.ts):
 * the decision table over CPU flags, OpenBLAS's own choice and the user's OPENBLAS_CORETYPE; the
 * cpuinfo / sysctl parsers on real files (fixtures/cpuinfo/); and, where OpenBLAS is installed, the
 * switch itself in a child process: a simulated Sapphire Rapids on which OpenBLAS "sees" Prescott
 * ends up on AVX-512 kernels, in its Workers too, and the notice says so.
 */
import assert from "node:assert/strict";
import {
  coreLevel,
  type CpuFacts,
  decideCore,
  parseCpuinfo,
  parseSysctl,
  readCpuFacts,
  wantedCore,
} from "../src/backends/native/cpu_core.ts";
import { nativeAvailable, nativeNotice } from "../src/backends/backend.ts";

const AVX2 = ["sse2", "avx", "avx2", "fma"];
const SKX = [...AVX2, "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"];
const SPR = [...SKX, "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16"];
const KNL = [...AVX2, "avx512f", "avx512cd", "avx512er", "avx512pf"]; // no BW/VL

function cpu(flags: string[], vendor = "GenuineIntel", model = 143): CpuFacts {
  return { vendor, family: 6, model, name: "", flags: new Set(flags) };
}

Deno.test("decideCore: the decision table", () => {
  const rows: {
    cpu: CpuFacts | null;
    chosen: string;
    userSet?: string;
    inherited?: string;
    force: string | null;
    note: string;
  }[] = [
    // Sapphire Rapids under Debian's OpenBLAS 0.3.21 (issue 16)
    {
      cpu: cpu(SPR),
      chosen: "Prescott",
      force: "Cooperlake",
      note: "forced: CPU has AVX-512 BF16, OpenBLAS saw Prescott",
    },
    {
      cpu: cpu(SKX, "GenuineIntel", 85),
      chosen: "Prescott",
      force: "SkylakeX",
      note: "forced: CPU has AVX-512, OpenBLAS saw Prescott",
    },
    {
      cpu: cpu(SPR),
      chosen: "Haswell",
      force: "Cooperlake",
      note: "forced: CPU has AVX-512 BF16, OpenBLAS saw Haswell",
    },
    {
      cpu: cpu(SPR, "AuthenticAMD", 17),
      chosen: "Zen",
      force: "Cooperlake",
      note: "forced: CPU has AVX-512 BF16, OpenBLAS saw Zen",
    },
    {
      cpu: cpu(AVX2, "AuthenticAMD", 49),
      chosen: "Nehalem",
      force: "Haswell",
      note: "forced: CPU has AVX2, OpenBLAS saw Nehalem",
    },
    {
      cpu: cpu(AVX2),
      chosen: "Sandybridge",
      force: "Haswell",
      note: "forced: CPU has AVX2, OpenBLAS saw Sandybridge",
    },
    {
      cpu: cpu(AVX2),
      chosen: "core2",
      force: "Haswell",
      note: "forced: CPU has AVX2, OpenBLAS saw core2",
    },
    {
      cpu: cpu(KNL),
      chosen: "PRESCOTT",
      force: "Haswell",
      note: "forced: CPU has AVX2, OpenBLAS saw PRESCOTT",
    },
    // OpenBLAS chose well: kept
    {
      cpu: cpu(SPR),
      chosen: "Cooperlake",
      force: null,
      note: "chosen by OpenBLAS; CPU has AVX-512 BF16",
    },
    {
      cpu: cpu(SPR),
      chosen: "SkylakeX",
      force: null,
      note: "chosen by OpenBLAS; CPU has AVX-512 BF16",
    },
    {
      cpu: cpu(SPR),
      chosen: "SapphireRapids",
      force: null,
      note: "chosen by OpenBLAS; CPU has AVX-512 BF16",
    },
    { cpu: cpu(SKX), chosen: "SkylakeX", force: null, note: "chosen by OpenBLAS; CPU has AVX-512" },
    { cpu: cpu(AVX2), chosen: "Zen", force: null, note: "chosen by OpenBLAS; CPU has AVX2" },
    { cpu: cpu(AVX2), chosen: "Haswell", force: null, note: "chosen by OpenBLAS; CPU has AVX2" },
    { cpu: cpu(KNL), chosen: "Haswell", force: null, note: "chosen by OpenBLAS; CPU has AVX2" },
    // nothing better to force, or a core this table does not know
    {
      cpu: cpu(["sse2", "sse3"]),
      chosen: "Prescott",
      force: null,
      note: "chosen by OpenBLAS; CPU has no AVX2",
    },
    {
      cpu: cpu(["sse2", "avx", "avx2"]),
      chosen: "Sandybridge",
      force: null,
      note: "chosen by OpenBLAS; CPU has no AVX2",
    },
    {
      cpu: cpu(["fp", "asimd"], ""),
      chosen: "neoversen1",
      force: null,
      note: "chosen by OpenBLAS; CPU has no AVX2",
    },
    {
      cpu: cpu(SPR),
      chosen: "FutureLake",
      force: null,
      note: "chosen by OpenBLAS; CPU has AVX-512 BF16",
    },
    { cpu: null, chosen: "Prescott", force: null, note: "chosen by OpenBLAS; CPU flags unknown" },
    // the user's OPENBLAS_CORETYPE wins, even a slow one
    {
      cpu: cpu(SPR),
      chosen: "Prescott",
      userSet: "Prescott",
      force: null,
      note:
        "set by OPENBLAS_CORETYPE=Prescott; CPU has AVX-512 BF16: unset it for Cooperlake kernels",
    },
    {
      cpu: cpu(SPR),
      chosen: "SkylakeX",
      userSet: "SkylakeX",
      force: null,
      note: "set by OPENBLAS_CORETYPE=SkylakeX; CPU has AVX-512 BF16",
    },
    {
      cpu: null,
      chosen: "Haswell",
      userSet: "Haswell",
      force: null,
      note: "set by OPENBLAS_CORETYPE=Haswell",
    },
    // a Worker or child of a process that forced: same reason, no second switch …
    {
      cpu: cpu(SPR),
      chosen: "Cooperlake",
      userSet: "Cooperlake",
      inherited: "Cooperlake;forced: CPU has AVX-512 BF16, OpenBLAS saw Prescott",
      force: null,
      note: "forced: CPU has AVX-512 BF16, OpenBLAS saw Prescott",
    },
    // … unless OpenBLAS did not take it; and a user's own value still wins over the marker
    {
      cpu: cpu(SPR),
      chosen: "Prescott",
      userSet: "Cooperlake",
      inherited: "Cooperlake;forced: CPU has AVX-512 BF16, OpenBLAS saw Prescott",
      force: "Cooperlake",
      note: "forced: CPU has AVX-512 BF16, OpenBLAS saw Prescott",
    },
    {
      cpu: cpu(SPR),
      chosen: "Haswell",
      userSet: "Haswell",
      inherited: "Cooperlake;forced: CPU has AVX-512 BF16, OpenBLAS saw Prescott",
      force: null,
      note:
        "set by OPENBLAS_CORETYPE=Haswell; CPU has AVX-512 BF16: unset it for Cooperlake kernels",
    },
  ];
  for (const r of rows) {
    const got = decideCore(r);
    const label = JSON.stringify({ ...r, cpu: r.cpu && [...r.cpu.flags].join(" ") });
    assert.deepEqual(got, { force: r.force, note: r.note }, label);
    // the property behind the table: after the decision, nothing below what the flags allow
    const final = got.force ?? r.chosen;
    const want = r.cpu && wantedCore(r.cpu.flags);
    if (want && !r.userSet && coreLevel(r.chosen) !== null) {
      assert.ok(coreLevel(final)! >= coreLevel(want.core)!, label);
    }
  }
});

Deno.test("coreLevel ranks OpenBLAS's x86 core names by vector width, case-insensitively", () => {
  for (const name of ["Prescott", "Core2", "Nehalem", "Katmai", "Atom", "Barcelona", "Unknown"]) {
    assert.equal(coreLevel(name), 0, name);
  }
  assert.equal(coreLevel("Sandybridge"), 1);
  assert.equal(coreLevel("Excavator"), 1);
  assert.equal(coreLevel("haswell"), 2);
  assert.equal(coreLevel("Zen"), 2);
  assert.equal(coreLevel("SKYLAKEX"), 3);
  assert.equal(coreLevel("Cooperlake"), 3);
  assert.equal(coreLevel("SapphireRapids"), 3);
  assert.equal(coreLevel("armv8"), null);
});

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`../fixtures/cpuinfo/${name}`, import.meta.url));

Deno.test("parseCpuinfo reads the first processor of real cpuinfo files (Intel, AMD, ARM)", () => {
  const spr = parseCpuinfo(fixture("sapphire_rapids.txt"))!;
  assert.equal(spr.vendor, "GenuineIntel");
  assert.equal(spr.family, 6);
  assert.equal(spr.model, 143);
  assert.equal(spr.name, "Intel(R) Xeon(R) Platinum 8480+");
  assert.ok(spr.flags.has("amx_tile") && spr.flags.has("avx512_fp16"));
  assert.deepEqual(wantedCore(spr.flags), { core: "Cooperlake", because: "AVX-512 BF16" });
  const zen2 = parseCpuinfo(fixture("epyc_7742.txt"))!;
  assert.equal(zen2.vendor, "AuthenticAMD");
  assert.equal(zen2.family, 23);
  assert.deepEqual(wantedCore(zen2.flags), { core: "Haswell", because: "AVX2" });
  const arm = parseCpuinfo(fixture("neoverse_n1.txt"))!;
  assert.equal(arm.vendor, "");
  assert.equal(arm.model, null);
  assert.ok(arm.flags.has("asimd"));
  assert.equal(wantedCore(arm.flags), null);
  assert.equal(parseCpuinfo("processor : 0\n"), null);
});

Deno.test("parseSysctl reads an Intel Mac's machdep.cpu (AVX1.0 → avx, leaf 7 → avx2)", () => {
  const text = `machdep.cpu.vendor: GenuineIntel
machdep.cpu.family: 6
machdep.cpu.model: 158
machdep.cpu.brand_string: Intel(R) Core(TM) i9-9880H CPU @ 2.30GHz
machdep.cpu.features: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 CLFSH DS ACPI MMX FXSR SSE SSE2 SS HTT TM PBE SSE3 PCLMULQDQ DTES64 MON DSCPL VMX EST TM2 SSSE3 FMA CX16 TPR PDCM SSE4.1 SSE4.2 x2APIC MOVBE POPCNT AES PCID XSAVE OSXSAVE SEGLIM64 TSCTMR AVX1.0 RDRAND F16C
machdep.cpu.leaf7_features: RDWRFSGS TSC_THREAD_OFFSET SGX BMI1 HLE AVX2 SMEP BMI2 ERMS INVPCID RTM FPU_CSDS MPX RDSEED ADX SMAP CLFSOPT IPT MDCLEAR TSXFA IBRS STIBP L1DF SSBD
`;
  const mac = parseSysctl(text)!;
  assert.equal(mac.vendor, "GenuineIntel");
  assert.equal(mac.model, 158);
  assert.ok(mac.flags.has("avx") && mac.flags.has("avx2") && mac.flags.has("fma"));
  assert.deepEqual(wantedCore(mac.flags), { core: "Haswell", because: "AVX2" });
  assert.equal(parseSysctl(""), null);
});

const LINUX = Deno.build.os === "linux";

Deno.test({
  name: "readCpuFacts: SLIDEWIN_CPUINFO simulates a CPU, never claiming flags the real one lacks",
  ignore: !LINUX,
  fn: () => {
    const real = parseCpuinfo(Deno.readTextFileSync("/proc/cpuinfo"));
    assert.deepEqual(readCpuFacts(), real);
    const path = new URL("../fixtures/cpuinfo/sapphire_rapids.txt", import.meta.url).pathname;
    Deno.env.set("SLIDEWIN_CPUINFO", path);
    try {
      const sim = readCpuFacts()!;
      assert.equal(sim.vendor, "GenuineIntel");
      assert.equal(sim.model, 143);
      const fake = parseCpuinfo(fixture("sapphire_rapids.txt"))!;
      assert.deepEqual(
        [...sim.flags].sort(),
        [...fake.flags].filter((f) => real!.flags.has(f)).sort(),
      );
    } finally {
      Deno.env.delete("SLIDEWIN_CPUINFO");
    }
  },
});

const HAVE = nativeAvailable();
const CI = Deno.env.get("CI") === "true";
if (!HAVE && !CI) console.log(`specs/cpu_core_test.ts: switch specs skipped — ${nativeNotice()}`);

/** Runs a child Deno with exactly `env` added to a copy of ours minus OpenBLAS/slidewin settings. */
async function child(env: Record<string, string>): Promise<Record<string, string>> {
  const base = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) =>
      !k.startsWith("OPENBLAS_CORETYPE") && !k.startsWith("SLIDEWIN_")
    ),
  );
  const here = (p: string) => new URL(p, import.meta.url).href;
  const code = `import { nativeNotice } from "${here("../src/backends/backend.ts")}";
import { openBlas } from "${here("../src/backends/native/openblas.ts")}";
const b = openBlas();
const src = 'import { openBlas } from "${
    here("../src/backends/native/openblas.ts")
  }"; const b = openBlas(); postMessage(b.config);';
const w = new Worker("data:text/javascript," + encodeURIComponent(src), { type: "module" });
const workerConfig = await new Promise((r) => w.onmessage = (e) => r(e.data));
w.terminate();
console.log(JSON.stringify({ notice: nativeNotice(), core: b.core, config: b.config, workerConfig,
  env: Deno.env.get("OPENBLAS_CORETYPE") ?? "" }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    env: { ...base, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

Deno.test({
  name: "simulated Sapphire Rapids on which OpenBLAS sees Prescott: forced to AVX-512, Workers too",
  ignore: !HAVE && !CI,
  fn: async () => {
    assert.ok(HAVE, `OpenBLAS is required under CI: ${nativeNotice()}`);
    const real = readCpuFacts();
    const spr = new URL("../fixtures/cpuinfo/sapphire_rapids.txt", import.meta.url).pathname;
    const sim = parseCpuinfo(fixture("sapphire_rapids.txt"))!;
    const want = real && wantedCore(new Set([...sim.flags].filter((f) => real.flags.has(f))));
    const r = await child({ SLIDEWIN_CPUINFO: spr, SLIDEWIN_SIMULATE_OPENBLAS_CORE: "Prescott" });
    if (!want) { // this CPU cannot run better kernels: nothing may be forced
      assert.equal(r.core, "Prescott");
      return;
    }
    assert.equal(r.core, want.core);
    assert.match(
      r.notice,
      new RegExp(
        `^native: OpenBLAS \\S+ \\(${want.core}, forced: CPU has ${want.because}, ` +
          "OpenBLAS saw Prescott\\) from \\S+ runs the convolutions$",
      ),
    );
    assert.match(r.config, new RegExp(` ${want.core} `), "openblas_get_config after the switch");
    assert.match(r.workerConfig, new RegExp(` ${want.core} `), "a Worker shares the library");
    assert.equal(r.env, want.core, "children inherit OPENBLAS_CORETYPE");
  },
});

Deno.test({
  name: "the user's OPENBLAS_CORETYPE is kept, even a slow one, and the notice says so",
  ignore: !HAVE && !CI,
  fn: async () => {
    assert.ok(HAVE, `OpenBLAS is required under CI: ${nativeNotice()}`);
    const r = await child({ OPENBLAS_CORETYPE: "Prescott" });
    assert.equal(r.core, "Prescott");
    assert.match(
      r.notice,
      /\(Prescott, set by OPENBLAS_CORETYPE=Prescott(; CPU has [^)]+)?\) from/,
    );
    assert.match(r.workerConfig, / Prescott /);
  },
});

Deno.test({
  name: "on this machine, unset OPENBLAS_CORETYPE ends on a core as wide as the CPU allows",
  ignore: !HAVE && !CI,
  fn: async () => {
    assert.ok(HAVE, `OpenBLAS is required under CI: ${nativeNotice()}`);
    const r = await child({});
    const real = readCpuFacts();
    const want = real && wantedCore(real.flags);
    const level = coreLevel(r.core);
    if (want && level !== null) assert.ok(level >= coreLevel(want.core)!, r.notice);
    assert.match(r.notice, /^native: OpenBLAS \S+ \(\S+, (chosen by OpenBLAS|forced: )/);
  },
});
