import { realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { AuditFileInUseError } from "./errors.js";

/**
 * The audit files open for writing in this process, by canonical path. Kept on
 * `globalThis` under a registered symbol so that two installed copies of the
 * package still see each other's writers.
 */
const WRITERS_KEY = Symbol.for("beauvoir.audit-trail.writers");

function writers(): Map<string, object> {
  const holder = globalThis as { [WRITERS_KEY]?: Map<string, object> };
  holder[WRITERS_KEY] ??= new Map();
  return holder[WRITERS_KEY];
}

/**
 * Makes `owner` the one writer of `path` in this process.
 * @param path - the audit file (relative paths are resolved against the
 *   working directory, symbolic links in its directories followed).
 * @param owner - the object claiming it (an `AuditTrail`, a repair).
 * @returns a function that gives the file up (only if `owner` still holds it).
 * @throws {@link AuditFileInUseError} when another owner holds it.
 */
export function claimWriter(path: string, owner: object): () => void {
  const key = canonicalPath(path);
  const registry = writers();
  const holder = registry.get(key);
  if (holder !== undefined && holder !== owner) throw new AuditFileInUseError(path);
  registry.set(key, owner);
  return () => {
    if (registry.get(key) === owner) registry.delete(key);
  };
}

/**
 * The path with every symbolic link of its existing directories resolved, so
 * one file reached through a linked directory has one key. Levels that do not
 * exist yet (the trail creates them) keep their spelling, as does a path the
 * real filesystem does not know (an injected one).
 */
function canonicalPath(path: string): string {
  const absolute = resolve(path);
  const missing: string[] = [basename(absolute)];
  let directory = dirname(absolute);
  for (;;) {
    try {
      return join(realpathSync.native(directory), ...missing.reverse());
    } catch {
      const parent = dirname(directory);
      if (parent === directory) return absolute;
      missing.push(basename(directory));
      directory = parent;
    }
  }
}
