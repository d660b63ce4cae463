/**
 * An output-folder lock: `<dir>/.lock`, created with `createNew` and holding the owner's pid and
 * host, so two trainings never interleave checkpoints in the same folder. A lock left by a dead
 * process (same host, pid gone) is taken over with a notice.
 *
 * @module
 */

/** A held lock; {@linkcode DirLock.release} removes it (and the folder, if the lock created it). */
export interface DirLock {
  /** Path of the lock file. */
  path: string;
  /** Removes the lock file; removes `dir` too when the lock created it and it is otherwise empty. */
  release(): Promise<void>;
}

/** Another live process holds the lock. */
export class LockedError extends Error {
  override name = "LockedError";
}

function alive(pid: number): boolean {
  try {
    // Signal 0 only checks that the process exists.
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Locks `dir` (created if needed) for this process. Throws {@linkcode LockedError} with a one-line
 * message when a live process holds it; takes over a stale lock (dead pid on this host), calling
 * `notice` and removing the dead process's leftover temp files.
 *
 * @example
 * ```ts
 * import { lockDir } from "./lock.ts";
 * const lock = await lockDir(await Deno.makeTempDir());
 * await lock.release();
 * ```
 */
export async function lockDir(
  dir: string,
  options: { notice?: (line: string) => void } = {},
): Promise<DirLock> {
  const notice = options.notice ?? ((line: string) => console.error(line));
  const created = !(await exists(dir));
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/.lock`;
  const host = Deno.hostname();
  const mine = JSON.stringify({ pid: Deno.pid, host, since: new Date().toISOString() }) + "\n";
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await Deno.open(path, { write: true, createNew: true });
      try {
        await file.write(new TextEncoder().encode(mine));
      } finally {
        file.close();
      }
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          await Deno.remove(path).catch(() => {});
          if (created) await Deno.remove(dir).catch(() => {}); // only succeeds when empty
        },
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    let owner: { pid?: number; host?: string } = {};
    try {
      owner = JSON.parse(await Deno.readTextFile(path));
    } catch {
      // Torn or being written: treat as held unless it stays unreadable.
      await new Promise((r) => setTimeout(r, 50));
      try {
        owner = JSON.parse(await Deno.readTextFile(path));
      } catch {
        owner = {};
      }
    }
    const pid = Number(owner.pid);
    if (Number.isInteger(pid) && pid > 0 && (owner.host !== host || alive(pid))) {
      throw new LockedError(
        `${dir} is in use by another training (pid ${pid}${
          owner.host === host ? "" : ` on ${owner.host}`
        }; lock ${path}); use another --out, or delete the lock if that process is gone`,
      );
    }
    notice(
      `notice: taking over the stale lock ${path}` +
        (Number.isInteger(pid) ? ` (pid ${pid} is gone)` : " (unreadable)"),
    );
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.startsWith(".") && entry.name.endsWith(`.tmp`)) {
        if (!Number.isInteger(pid) || entry.name.includes(`.${pid}.`)) {
          await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
        }
      }
    }
    await Deno.remove(path).catch(() => {});
  }
  throw new LockedError(`Cannot take the lock ${path}; another process keeps taking it`);
}
