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
 * Each missing level is created with mode `0700` and its parent fsynced. The
 * parent of `path` is fsynced even when nothing was missing, since an earlier
 * process may have created `path` and died before making it durable.
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
  const target = resolve(path);
  const missing: string[] = [];
  for (let current = target; ; current = dirname(current)) {
    if (await exists(fs, current)) break;
    missing.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const directory of missing) {
    try {
      await fs.mkdir(directory, { recursive: true, mode });
    } catch (error) {
      // Another process may create the same level at the same moment.
      if (!isErrnoError(error, "EEXIST")) throw error;
    }
    await fs.fsyncDirectory(dirname(directory));
  }
  if (missing.length === 0 && dirname(target) !== target) {
    await fs.fsyncDirectory(dirname(target));
  }
  return missing;
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
