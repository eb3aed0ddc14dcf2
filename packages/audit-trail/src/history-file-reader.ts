import {
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
    return await handle.readFile();
  } catch (error) {
    throw new AuditReadError(path, error);
  } finally {
    await handle.close().catch(() => {});
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
