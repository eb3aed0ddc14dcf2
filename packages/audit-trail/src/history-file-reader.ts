import {
  type FileHandleLike,
  type FileSystem,
  isErrnoError,
  openPrivateFile,
  SymlinkRefusedError,
} from "@beauvoir/core";
import { AuditReadError } from "./errors.js";

/**
 * Reads one file of a history, never through a symbolic link.
 * @param fs - the filesystem.
 * @param path - the file.
 * @returns its bytes, or `undefined` when it does not exist.
 * @throws SymlinkRefusedError (`SYMLINK_REFUSED`) when `path` is a symbolic link.
 * @throws {@link AuditReadError} when it cannot be read (a directory in its place, `EACCES`, …).
 */
export async function readHistoryFile(fs: FileSystem, path: string): Promise<Buffer | undefined> {
  let handle: Awaited<ReturnType<typeof openPrivateFile>>;
  try {
    handle = await openPrivateFile(fs, path, "read");
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return undefined;
    if (SymlinkRefusedError.isInstance(error)) throw error;
    throw new AuditReadError(path, error);
  }
  try {
    await refuseUnreadableMode(handle, path);
    return await handle.readFile();
  } catch (error) {
    if (AuditReadError.isInstance(error)) throw error;
    throw new AuditReadError(path, error);
  } finally {
    await handle.close().catch(() => {});
  }
}

/**
 * A history file whose owner has no read permission is refused even when
 * this process could read it anyway (as root): the same data directory then
 * behaves the same whoever runs the program, and a `chmod 000` in place of a
 * file is reported instead of silently read.
 */
async function refuseUnreadableMode(handle: FileHandleLike, path: string): Promise<void> {
  const { mode } = (await handle.stat()) as { mode?: number };
  if (typeof mode === "number" && (mode & 0o400) === 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    throw new AuditReadError(
      path,
      Object.assign(new Error(`EACCES: ${path} has mode ${octal}: its owner may not read it`), {
        code: "EACCES",
      }),
    );
  }
}

/**
 * Reads a file the caller named explicitly (following a link, as any reader
 * of a path the user typed would).
 * @param fs - the filesystem.
 * @param path - the file.
 * @returns its bytes.
 * @throws {@link AuditReadError} when it cannot be read, or does not exist.
 */
export async function readNamedFile(fs: FileSystem, path: string): Promise<Buffer> {
  try {
    return await fs.readFile(path);
  } catch (error) {
    throw new AuditReadError(path, error);
  }
}
