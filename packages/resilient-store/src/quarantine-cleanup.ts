import { type FileSystem, isErrnoError, type Logger } from "@beauvoir/core";

/** @internal What {@link removeExpiredQuarantine} needs. */
export interface QuarantineCleanupOptions {
  readonly fs: FileSystem;
  readonly directory: string;
  /** Full path of a directory entry. */
  readonly pathOf: (entry: string) => string;
  /** The quarantine timestamp in an entry's name, or undefined when it is not a quarantine file. */
  readonly timestampOf: (entry: string) => number | undefined;
  readonly now: number;
  readonly retentionMs: number;
  readonly logger: Logger;
}

/**
 * @internal Deletes quarantine files whose timestamp (taken from the name, the
 * time they were quarantined, not the file's mtime) is older than the retention.
 * @returns how many files were deleted.
 */
export async function removeExpiredQuarantine(options: QuarantineCleanupOptions): Promise<number> {
  const { fs, logger } = options;
  let entries: string[];
  try {
    entries = await fs.readdir(options.directory);
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return 0;
    throw error;
  }
  let removed = 0;
  for (const entry of entries) {
    const timestamp = options.timestampOf(entry);
    if (timestamp === undefined || options.now - timestamp <= options.retentionMs) continue;
    const file = options.pathOf(entry);
    try {
      await fs.unlink(file);
      removed++;
      logger.info("Deleted expired quarantine file", { file, quarantinedAt: timestamp });
    } catch (error) {
      if (!isErrnoError(error, "ENOENT")) throw error;
    }
  }
  return removed;
}
