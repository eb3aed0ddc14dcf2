import { constants } from "node:fs";
import { BeauvoirError, isBeauvoirErrorWithCode } from "./beauvoir-error.js";
import { isErrnoError } from "./errno.js";
import type { FileHandleLike, FileSystem } from "./file-system.js";

/** The mode of every file Beauvoir creates: read and write for the owner only. */
export const PRIVATE_FILE_MODE = 0o600;

/** The mode of every directory Beauvoir creates: the owner only. */
export const PRIVATE_DIRECTORY_MODE = 0o700;

/**
 * How {@link openPrivateFile} opens a file:
 * - `append`: write-only, every write at the end, created when missing;
 * - `create`: write-only, created, failing with `EEXIST` when it exists;
 * - `update`: read and write, the file must exist;
 * - `read`: read-only, the file must exist.
 */
export type PrivateOpenMode = "append" | "create" | "update" | "read";

const FLAGS: Readonly<Record<PrivateOpenMode, number>> = Object.freeze({
  append: constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
  create: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
  update: constants.O_RDWR,
  read: constants.O_RDONLY,
});

/**
 * The numeric `open` flags of {@link openPrivateFile}: the mode's flags plus
 * `O_NOFOLLOW`, so a symbolic link planted where a durable file belongs fails
 * with `ELOOP` instead of having its target written.
 * @param mode - how the file is opened.
 * @returns the flags to pass to {@link FileSystem.open}.
 */
export function privateOpenFlags(mode: PrivateOpenMode): number {
  return FLAGS[mode] | constants.O_NOFOLLOW;
}

/**
 * Thrown when a durable file's path is a symbolic link. Nothing was read
 * through it or written to its target.
 */
export class SymlinkRefusedError extends BeauvoirError<"SYMLINK_REFUSED"> {
  /** The path that is a symbolic link. */
  readonly path: string;

  /**
   * @param path - the refused path.
   * @param cause - the `ELOOP` error from `open`.
   */
  constructor(path: string, cause?: unknown) {
    super(
      "SYMLINK_REFUSED",
      `${path} is a symbolic link; Beauvoir writes its files only in place, never through a link`,
      { cause },
    );
    this.path = path;
  }

  /**
   * Checks for this error across copies of the package.
   * @param value - anything caught.
   * @returns true for a `SymlinkRefusedError` (any subclass included).
   */
  static override isInstance(value: unknown): value is SymlinkRefusedError {
    return isBeauvoirErrorWithCode(value, "SYMLINK_REFUSED");
  }
}

/**
 * Opens a file Beauvoir owns: never through a symbolic link, created with mode
 * `0600`.
 * @param fs - the filesystem.
 * @param path - the file.
 * @param mode - how to open it; see {@link PrivateOpenMode}.
 * @returns the open handle.
 * @throws {@link SymlinkRefusedError} when `path` is a symbolic link; any
 *   other error of `open` unchanged.
 * @example
 * ```ts
 * const handle = await openPrivateFile(nodeFileSystem, "/var/lib/agent/journal.jsonl", "append");
 * ```
 */
export async function openPrivateFile(
  fs: FileSystem,
  path: string,
  mode: PrivateOpenMode,
): Promise<FileHandleLike> {
  try {
    return await fs.open(path, privateOpenFlags(mode), PRIVATE_FILE_MODE);
  } catch (error) {
    if (isErrnoError(error, "ELOOP")) throw new SymlinkRefusedError(path, error);
    throw error;
  }
}
