import { dirname, resolve } from "node:path";
import { isErrnoError } from "./errno.js";
import type { FileSystem } from "./file-system.js";
import { PRIVATE_DIRECTORY_MODE } from "./private-files.js";

/**
 * Makes sure `path` exists as a directory whose own entry survives a power
 * cut. `mkdir` alone is not enough: the new directory's name lives in its
 * parent, and is durable only once the parent is fsynced; until then a power
 * cut can take the directory away with every file fsynced inside it.
 *
 * Each missing level is created with mode `0700`, and the parent of every
 * level of the path is fsynced, top down, whether this call created the level
 * or found it: a process killed between its `mkdir` and that fsync leaves a
 * level that looks like any other but is not durable yet. A level it found
 * whose parent cannot be opened (`EACCES`, `EPERM`, `EROFS`: a parent the
 * process may only traverse, a read-only mount) is left as it is, since it
 * could not be made durable by this process anyway. Initialisation is the
 * only caller, so the few directory fsyncs are paid once per open.
 * @param fs - the filesystem.
 * @param path - the directory.
 * @param mode - the mode of the directories created. @default 0o700
 * @returns the directories created, outermost first.
 * @example
 * ```ts
 * await ensureDurableDirectory(nodeFileSystem, "/var/lib/agent/audit");
 * ```
 */
export async function ensureDurableDirectory(
  fs: FileSystem,
  path: string,
  mode: number = PRIVATE_DIRECTORY_MODE,
): Promise<string[]> {
  const levels: string[] = [];
  for (let current = resolve(path); dirname(current) !== current; current = dirname(current)) {
    levels.unshift(current);
  }
  const created: string[] = [];
  let missing = false;
  for (const level of levels) {
    // Below a missing level everything is missing: no need to ask.
    missing = missing || !(await exists(fs, level));
    if (missing) {
      try {
        await fs.mkdir(level, { recursive: true, mode });
        created.push(level);
      } catch (error) {
        // Another process may create the same level at the same moment.
        if (!isErrnoError(error, "EEXIST")) throw error;
      }
    }
    try {
      await fs.fsyncDirectory(dirname(level));
    } catch (error) {
      // A level we found, under a parent we may only traverse (mode 0711, a
      // read-only mount): it is not ours to make durable, and we could not.
      const ours = created.includes(level);
      if (ours || !isErrnoError(error, "EACCES", "EPERM", "EROFS")) throw error;
    }
  }
  return created;
}
async function exists(fs: FileSystem, path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return false;
    throw error;
  }
}
