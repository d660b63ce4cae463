/**
 * The line the inferring tasks (detect, read, visualize) print first: which backend runs the net
 * and, under `--backend auto`, why it was chosen (the table's order, which puts the fastest
 * measured CPU backend first, or a probe's cached measurement).
 *
 * @module
 */
import {
  autoNotice,
  type BackendName,
  describeBackend,
  lastAutoDecision,
} from "../../src/backends/backend.ts";

/**
 * E.g. "backend: onednn (oneDNN 2.6.3, 2 threads; other ops on wasm) · auto: onednn (table
 * order: no probe)"; call it right after `useBackend(asked)`.
 */
export function backendLine(asked: BackendName): string {
  const auto = asked === "auto" ? lastAutoDecision() : undefined;
  return `backend: ${describeBackend()}` + (auto ? ` · ${autoNotice(auto)}` : "");
}
