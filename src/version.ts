/**
 * The library's version, as deno.json says it (specs/auto_test.ts holds the two equal). Library
 * code cannot read deno.json (a remote importer has none), so it is written here once.
 *
 * @module
 */

/** slidewin's version, e.g. "0.1.0". */
export const VERSION = "0.1.0";
