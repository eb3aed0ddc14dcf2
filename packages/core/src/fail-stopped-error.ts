import { BeauvoirError, isBeauvoirErrorWithCode } from "./beauvoir-error.js";

/**
 * Thrown by a durable writer that has stopped accepting writes: an earlier
 * `fsync` (or a write whose durability is unknown) failed. After a failed
 * fsync the kernel may already have dropped the dirty pages while the file
 * still reads back as if they were written, so retrying the fsync could
 * report a success that is not one. The writer fails stop instead; open a new
 * one (which re-reads the file from disk) once the cause is fixed.
 */
export class FailStoppedError extends BeauvoirError<"FAIL_STOPPED"> {
  /** The file whose durability is in doubt. */
  readonly path: string;

  /**
   * @param path - the file whose write or fsync failed.
   * @param cause - the first failure; every later call carries the same one.
   */
  constructor(path: string, cause: unknown) {
    super(
      "FAIL_STOPPED",
      `writes to ${path} stopped after a failed write or fsync; reopen to re-read the file from disk`,
      { cause },
    );
    this.path = path;
  }

  /**
   * Checks for this error across copies of the package.
   * @param value - anything caught.
   * @returns true for a `FailStoppedError` (any subclass included).
   */
  static override isInstance(value: unknown): value is FailStoppedError {
    return isBeauvoirErrorWithCode(value, "FAIL_STOPPED");
  }
}
