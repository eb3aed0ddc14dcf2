import {
  type FileHandleLike,
  type FileSystem,
  openPrivateFile,
  SymlinkRefusedError,
} from "@beauvoir/core";
import { AuditWriteError } from "./errors.js";
import type { HistoryLayout } from "./segments.js";

/**
 * Opens the current file for appending: never through a symbolic link,
 * created with mode 0600 when missing, its directory entry then fsynced so
 * the file survives a power cut. The directory is fsynced even when the file
 * existed: a process killed between creating it and that fsync leaves a name
 * only the page cache holds, and records fsynced into it would be lost with it.
 * @param fs - the filesystem.
 * @param layout - the history's files.
 * @param existed - whether the file existed (its mode is then checked).
 * @returns the descriptor.
 * @throws SymlinkRefusedError (`SYMLINK_REFUSED`) when the path is a symbolic link.
 * @throws {@link AuditWriteError} when opening or the directory fsync fails.
 */
export async function openCurrentFile(
  fs: FileSystem,
  layout: HistoryLayout,
  existed: boolean,
): Promise<FileHandleLike> {
  let handle: FileHandleLike;
  try {
    handle = await openPrivateFile(fs, layout.current, "append");
  } catch (error) {
    if (SymlinkRefusedError.isInstance(error)) throw error;
    throw new AuditWriteError("open", layout.current, `Could not open ${layout.current}`, error);
  }
  if (existed) {
    // As for reading (see readHistoryFile): a file its owner may not write is refused, even as root.
    const { mode } = (await handle.stat().catch(() => ({}))) as { mode?: number };
    if (typeof mode === "number" && (mode & 0o200) === 0) {
      await handle.close().catch(() => {});
      const octal = (mode & 0o777).toString(8).padStart(4, "0");
      throw new AuditWriteError(
        "open",
        layout.current,
        `${layout.current} has mode ${octal}: its owner may not write it`,
        Object.assign(new Error(`EACCES: mode ${octal}`), { code: "EACCES" }),
      );
    }
  }
  try {
    await fs.fsyncDirectory(layout.directory);
  } catch (error) {
    await handle.close().catch(() => {});
    throw new AuditWriteError(
      "fsync",
      layout.directory,
      `Could not fsync ${layout.directory}`,
      error,
    );
  }
  return handle;
}

const MAX_SHORT_WRITE_RETRIES = 3;

/**
 * Writes all of `bytes` at the end of the file, retrying short writes (at
 * most 3 times).
 * @param handle - the current file, opened for appending.
 * @param bytes - the batch.
 * @param path - the file's path, for errors.
 * @throws {@link AuditWriteError} (`write`, or `short-write` when still short after the retries).
 */
export async function appendFully(
  handle: FileHandleLike,
  bytes: Buffer,
  path: string,
): Promise<void> {
  let offset = 0;
  let retries = 0;
  while (offset < bytes.length) {
    let bytesWritten: number;
    try {
      ({ bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, null));
    } catch (error) {
      throw new AuditWriteError("write", path, "write failed", error);
    }
    offset += bytesWritten;
    if (offset < bytes.length && ++retries > MAX_SHORT_WRITE_RETRIES) {
      throw new AuditWriteError(
        "short-write",
        path,
        `Only ${offset} of ${bytes.length} bytes written after ${MAX_SHORT_WRITE_RETRIES} retries`,
      );
    }
  }
}
