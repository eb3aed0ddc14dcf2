import { resolve } from "node:path";
import { AuditFileInUseError } from "./errors.js";

/**
 * The audit files open for writing in this process, by absolute path. Kept on
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
 * @param path - the audit file (relative paths are resolved against the working directory).
 * @param owner - the object claiming it (an `AuditTrail`, a repair).
 * @returns a function that gives the file up (only if `owner` still holds it).
 * @throws {@link AuditFileInUseError} when another owner holds it.
 */
export function claimWriter(path: string, owner: object): () => void {
  const key = resolve(path);
  const registry = writers();
  const holder = registry.get(key);
  if (holder !== undefined && holder !== owner) throw new AuditFileInUseError(path);
  registry.set(key, owner);
  return () => {
    if (registry.get(key) === owner) registry.delete(key);
  };
}
