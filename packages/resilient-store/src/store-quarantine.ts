import { StoreWriteError } from "./errors.js";
import type { StoreContext } from "./store-context.js";
import type { StoreFileOperations } from "./store-file-operations.js";
import type { LoadedFile } from "./store-file-reader.js";

/**
 * @internal Moves a damaged or rejected file of the store aside, byte for
 * byte, as `{path}.quarantine.{timestamp}[-origin][-n]`: a fresh private
 * copy (mode 0600, exclusive create, so no existing entry or planted link is
 * ever overwritten) fsynced before the original is deleted and the directory
 * fsynced. A crash in between leaves both; the next load quarantines again.
 * @param origin - `""` for the primary, `"bak"`, or `"tmp{pid}"`.
 * @returns the quarantine file.
 * @throws {@link StoreWriteError} (`quarantine`, `rolledBack` when the
 *   original is still in place), or the fail-stop error when an fsync failed.
 */
export async function quarantineFile(
  context: StoreContext,
  operations: StoreFileOperations,
  file: LoadedFile,
  origin: string,
): Promise<string> {
  const { options, names, failStop } = context;
  const timestamp = options.clock.now();
  let target: string | undefined;
  let removed = false;
  try {
    target = await operations.writeUnderFreeName(
      (attempt) => names.quarantine(timestamp, origin, attempt),
      file.bytes,
      "quarantine",
    );
    try {
      await options.fs.unlink(file.file);
    } catch (error) {
      // The original stays in place; its copy would only be a duplicate.
      await operations.removeQuietly(target, "Could not delete a redundant quarantine copy");
      throw error;
    }
    removed = true;
    await operations.fsyncDirectory("quarantine");
  } catch (error) {
    if (failStop.stopped) throw failStop.error();
    throw new StoreWriteError(options.path, "quarantine", !removed, error);
  }
  options.logger.warn("Quarantined a corrupt store file", {
    path: options.path,
    file: file.file,
    quarantinedAs: target,
    reason: file.parsed.ok ? "rejected by schema or validate" : file.parsed.reason,
  });
  return target;
}
