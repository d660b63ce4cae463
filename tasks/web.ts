/**
 * `deno task web` — bundles the browser app (src/web/main.ts, `deno bundle --platform browser`)
 * and serves it with the exported model, the MNIST files and the wasm binaries
 * (src/web/server.ts). Prints `serving http://HOST:PORT/`; Ctrl-C stops it.
 */
import { helpText, parseFlags, runMain, UsageError } from "../src/cli.ts";
import { appFiles, bundleApp } from "../src/web/app_files.ts";
import { staticHandler } from "../src/web/server.ts";

const FLAGS = {
  /** TCP port (0: any free port). */
  port: {
    default: 8000,
    help: "TCP port (0 picks a free one)",
    check: (v: number) =>
      Number.isInteger(v) && v >= 0 && v < 65536 ? undefined : "must be 0-65535",
  },
  /** Interface to listen on. */
  host: { default: "127.0.0.1", help: "Interface to listen on (0.0.0.0 for all)" },
  /** Where the bundle goes. */
  out: { default: "runs/web/dist", help: "Folder of the built bundle" },
};

/** The checkout this task belongs to (tasks/..). */
const REPO = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

if (import.meta.main) {
  await runMain(async () => {
    const flags = parseFlags(Deno.args, FLAGS);
    if (!flags) {
      console.log(helpText(
        "deno task web",
        "Bundles and serves the web app: the localizer on WebGPU (else WebGL, else wasm) in the " +
          "browser.",
        FLAGS,
      ));
      return 0;
    }
    if (flags.host === "") throw new UsageError("--host must not be empty");
    await Deno.mkdir(flags.out, { recursive: true });
    const bundle = `${flags.out.replace(/\/+$/, "")}/app.js`;
    await bundleApp(REPO, bundle);
    const options = await appFiles(REPO, bundle);
    options.files![`/app.js.map`] = `${bundle}.map`;
    const handler = staticHandler(options);
    const stop = new AbortController();
    const server = Deno.serve({
      hostname: flags.host,
      port: flags.port,
      signal: stop.signal,
      onListen: ({ hostname, port }) => {
        const host = hostname.includes(":") ? `[${hostname}]` : hostname;
        console.log(`serving http://${host}:${port}/`);
      },
      onError: (error) => {
        console.error(`error: ${(error as Error)?.message ?? error}`);
        return new Response("internal error\n", { status: 500 });
      },
    }, handler);
    const quit = () => stop.abort();
    Deno.addSignalListener("SIGINT", quit);
    Deno.addSignalListener("SIGTERM", quit);
    await server.finished;
    Deno.removeSignalListener("SIGINT", quit);
    Deno.removeSignalListener("SIGTERM", quit);
    console.log("stopped");
    return 0;
  });
}
