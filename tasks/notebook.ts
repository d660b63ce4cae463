/**
 * `deno task notebook` — executes notebooks/localization.ipynb headlessly on Deno's Jupyter kernel
 * into `<out>/localization.ipynb` (with every output) and `<out>/localization.html`, and exits 1
 * when a cell fails.
 *
 * Execution goes through tasks/notebook_run.py (Python's jupyter_client), not
 * `jupyter nbconvert --execute`: Deno's kernel may publish a cell's idle status before the cell's
 * last outputs, and nbclient drops what arrives after idle (see the script's docstring).
 *
 * @module
 */
import { defineTask, positive } from "../src/cli.ts";
import { writeFileAtomic } from "../src/io.ts";

const FLAGS = {
  /** The notebook to execute. */
  notebook: { default: "notebooks/localization.ipynb", help: "Notebook to execute" },
  /** Where the executed notebook and its HTML export go. */
  out: { default: "runs/notebook", help: "Output folder (executed .ipynb and .html)" },
  /** Write the outputs back into the notebook itself (to commit them). */
  update: { default: false as boolean, help: "Also write the outputs back into --notebook" },
  /** Longest run of one cell. */
  timeout: { default: 600, help: "Seconds one cell may run", check: positive },
};

/** Debian's packages with the Python modules the runner needs. */
export const JUPYTER_PACKAGES = "jupyter-nbconvert python3-nbclient jupyter-client";

const RUNNER = decodeURIComponent(new URL("./notebook_run.py", import.meta.url).pathname);

/**
 * A Python interpreter that has jupyter_client, nbformat and nbconvert: $SLIDEWIN_PYTHON when set
 * (and only it), else /usr/bin/python3 (Debian's, which pyenv or a venv may shadow), else
 * `python3`; undefined when none has them.
 */
export async function jupyterPython(): Promise<string | undefined> {
  const chosen = Deno.env.get("SLIDEWIN_PYTHON");
  const candidates = chosen ? [chosen] : ["/usr/bin/python3", "python3"];
  for (const python of candidates) {
    try {
      const { success } = await new Deno.Command(python, {
        args: ["-c", "import jupyter_client, nbformat, nbconvert"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (success) return python;
    } catch {
      // not installed
    }
  }
  return undefined;
}

/** What {@linkcode executeNotebook} needs. */
export interface ExecuteOptions {
  /** Executed notebook to write. */
  out: string;
  /** HTML export to write, if any. */
  html?: string;
  /** Seconds one cell may run; default 600. */
  timeout?: number;
  /** Python with Jupyter; default {@linkcode jupyterPython}'s. */
  python?: string;
  /** Where the runner's per-cell log goes; default inherited stderr. */
  stderr?: "inherit" | "piped";
}

/**
 * Executes `notebook` on a private "deno" kernelspec that runs this very Deno binary; returns the
 * runner's exit code (0 ok, 1 a cell failed, 2 setup) and, with `stderr: "piped"`, its log.
 */
export async function executeNotebook(
  notebook: string,
  options: ExecuteOptions,
): Promise<{ code: number; log: string }> {
  const python = options.python ?? await jupyterPython();
  if (!python) {
    throw new Error(
      `No Python with Jupyter (jupyter_client, nbformat, nbconvert) found; install it: ` +
        `apt-get install ${JUPYTER_PACKAGES} (or set SLIDEWIN_PYTHON)`,
    );
  }
  const args = [RUNNER, notebook, "--out", options.out, "--deno", Deno.execPath()];
  if (options.html) args.push("--html", options.html);
  args.push("--timeout", String(options.timeout ?? 600));
  const piped = options.stderr === "piped";
  const result = await new Deno.Command(python, {
    args,
    stdout: "inherit",
    stderr: piped ? "piped" : "inherit",
  }).output();
  return { code: result.code, log: piped ? new TextDecoder().decode(result.stderr) : "" };
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task notebook",
  about: "Executes the notebook on Deno's Jupyter kernel into --out (.ipynb with outputs + .html).",
  flags: FLAGS,
  async run(flags) {
    try {
      await Deno.stat(flags.notebook);
    } catch {
      throw new Error(`Notebook ${flags.notebook} not found; pass --notebook PATH`);
    }
    await Deno.mkdir(flags.out, { recursive: true });
    const name = flags.notebook.replace(/^.*\//, "").replace(/\.ipynb$/, "");
    const out = `${flags.out}/${name}.ipynb`;
    const html = `${flags.out}/${name}.html`;
    const started = performance.now();
    const { code } = await executeNotebook(flags.notebook, { out, html, timeout: flags.timeout });
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    if (code !== 0) {
      throw new Error(
        code === 1
          ? `A cell of ${flags.notebook} failed (${seconds} s); its error is in ${out}`
          : `Could not execute ${flags.notebook}; see the lines above`,
      );
    }
    if (flags.update) {
      await writeFileAtomic(flags.notebook, await Deno.readTextFile(out));
      console.log(`Updated the outputs in ${flags.notebook}`);
    }
    console.log(`Executed ${flags.notebook} in ${seconds} s → ${out}, ${html}`);
  },
});

if (import.meta.main) await task.main();
