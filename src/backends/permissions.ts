/**
 * Permission-aware reads for the backend probes: they never prompt and never throw, so a library
 * user without `--allow-env` / `--allow-read` / `--allow-run` still gets a backend.
 *
 * @module
 */

/**
 * Whether `desc` is granted right now (false when it is not, or cannot be asked).
 *
 * @example
 * ```ts
 * import { granted } from "./permissions.ts";
 * console.log(typeof granted({ name: "env", variable: "HOME" })); // "boolean"
 * ```
 */
export function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Whether reading the environment variable `name` is granted right now.
 *
 * @example
 * ```ts
 * import { envAllowed } from "./permissions.ts";
 * console.log(typeof envAllowed("HOME")); // "boolean"
 * ```
 */
export function envAllowed(name: string): boolean {
  return granted({ name: "env", variable: name });
}

/**
 * An environment variable when reading it is allowed and it is not empty, else undefined; no
 * permission prompt.
 *
 * @example
 * ```ts
 * import { envGet } from "./permissions.ts";
 * console.log(envGet("SLIDEWIN_SURELY_UNSET")); // undefined
 * ```
 */
export function envGet(name: string): string | undefined {
  return envAllowed(name) ? Deno.env.get(name) || undefined : undefined;
}
