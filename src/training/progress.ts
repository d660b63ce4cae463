/**
 * A progress line on stderr: a bar with images/s, running loss parts and ETA, redrawn in place on
 * a terminal, or printed as plain periodic lines when stderr is a file or pipe.
 *
 * @module
 */

/** Options of {@linkcode Progress}. */
export interface ProgressOptions {
  /** Redraw in place; default: whether stderr is a terminal. */
  terminal?: boolean;
  /** Seconds between plain lines when not a terminal; default 15. */
  every?: number;
  /** Where to write; default stderr. */
  write?: (text: string) => void;
}

const encoder = new TextEncoder();

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${Math.round(s)}s`;
}

/**
 * Tracks `total` items of work and reports speed, ETA and named running values.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const p = new Progress("epoch 1", 100, { terminal: false });
 * p.update(50, { loss: 0.5 });
 * p.done();
 * ```
 */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #terminal: boolean;
  readonly #every: number;
  readonly #write: (text: string) => void;
  readonly #start = performance.now();
  #last = -Infinity;
  #line = "";

  constructor(label: string, total: number, options: ProgressOptions = {}) {
    this.#label = label;
    this.#total = total;
    this.#terminal = options.terminal ?? Deno.stderr.isTerminal();
    this.#every = (options.every ?? 15) * 1000;
    this.#write = options.write ?? ((t) => Deno.stderr.writeSync(encoder.encode(t)));
  }

  /** Seconds since the start. */
  get elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Reports `done` of `total` items, with running values (e.g. loss parts per image). */
  update(done: number, values: Record<string, number> = {}): void {
    const now = performance.now();
    if (!this.#terminal && now - this.#last < this.#every && done < this.#total) return;
    if (this.#terminal && now - this.#last < 100 && done < this.#total) return;
    this.#last = now;
    const secs = this.elapsed;
    const rate = done / Math.max(secs, 1e-9);
    const eta = (this.#total - done) / rate;
    const parts = Object.entries(values).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(" ");
    const pct = this.#total ? done / this.#total : 1;
    const stats = `${done}/${this.#total} ${rate.toFixed(0)} img/s ETA ${
      formatSeconds(eta)
    } ${parts}`;
    if (this.#terminal) {
      const width = 20;
      const fill = Math.round(pct * width);
      this.#line = `\r${this.#label} [${"#".repeat(fill)}${".".repeat(width - fill)}] ${stats}`;
      this.#write(this.#line + "\x1b[K");
    } else {
      this.#write(`${this.#label} ${(pct * 100).toFixed(0)}% ${stats}\n`);
    }
  }

  /** Ends the line (terminal mode). */
  done(): void {
    if (this.#terminal && this.#line) this.#write("\n");
  }
}
