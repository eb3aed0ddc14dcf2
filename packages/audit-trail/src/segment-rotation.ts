import { join } from "node:path";
import {
  BeauvoirError,
  type Clock,
  type FileHandleLike,
  type FileSystem,
  type Logger,
} from "@beauvoir/core";
import { openCurrentFile } from "./current-file.js";
import { AuditWriteError } from "./errors.js";
import { type HistoryLayout, nextSegmentName } from "./segments.js";

/** What a rotation did. */
export interface Rotated {
  /** The descriptor of the new, empty current file. */
  handle: FileHandleLike;
  /** The name the full file now has. */
  name: string;
}

/**
 * Turns the full current file into a rotated segment: renames it to
 * `{stem}.{stamp}{extension}` (a stamp later than the newest segment's, so
 * name order stays history order), fsyncs the directory, and creates a new
 * current file (mode 0600, never through a link), fsyncing the directory
 * again. The caller has fsynced the file first.
 */
export class SegmentRotation {
  readonly #fs: FileSystem;
  readonly #layout: HistoryLayout;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #newest: string | undefined;

  constructor(init: {
    fs: FileSystem;
    layout: HistoryLayout;
    clock: Clock;
    logger: Logger;
    newestSegment: string | undefined;
  }) {
    this.#fs = init.fs;
    this.#layout = init.layout;
    this.#clock = init.clock;
    this.#logger = init.logger;
    this.#newest = init.newestSegment;
  }

  /**
   * @param handle - the current file's descriptor (closed here when the rotation goes through).
   * @returns the new file, or `undefined` when the rename failed: nothing changed
   *   on disk, and the caller goes on with the same file (and tries again later).
   * @throws {@link AuditWriteError} when the rotation failed after the rename:
   *   whether it is durable is unknown, so the writer must stop.
   */
  async rotate(handle: FileHandleLike): Promise<Rotated | undefined> {
    const layout = this.#layout;
    const name = nextSegmentName(layout, this.#clock.now(), this.#newest);
    const rotatedPath = join(layout.directory, name);
    try {
      await this.#fs.rename(layout.current, rotatedPath);
    } catch (error) {
      this.#logger.error("Audit file rotation failed; will retry before a later write", {
        path: layout.current,
        error,
      });
      return undefined;
    }
    this.#newest = name;
    try {
      await this.#fs.fsyncDirectory(layout.directory);
      const opened = await openCurrentFile(this.#fs, layout, false);
      this.#logger.info("Audit file rotated", { path: layout.current, rotatedTo: rotatedPath });
      return { handle: opened, name };
    } catch (error) {
      throw BeauvoirError.isInstance(error)
        ? error
        : new AuditWriteError("fsync", layout.directory, "Completing the rotation failed", error);
    } finally {
      await handle.close().catch(() => {});
    }
  }
}
