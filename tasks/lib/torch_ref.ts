/**
 * Runs tasks/bench_torch.py (the PyTorch reference of `deno task bench`) with Debian's python3 or
 * the one on the PATH, and returns the JSON object it prints, or null when no interpreter with
 * torch runs it.
 *
 * @module
 */

/** The JSON tasks/bench_torch.py printed for `args`, or null (no python3, no torch, an error). */
export async function runBenchTorch(
  args: readonly string[],
): Promise<Record<string, unknown> | null> {
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(python, {
        args: ["tasks/bench_torch.py", ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.code === 0) return JSON.parse(new TextDecoder().decode(out.stdout).trim());
    } catch {
      // no such interpreter
    }
  }
  return null;
}
