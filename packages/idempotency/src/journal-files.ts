import { join } from "node:path";
import {
  BeauvoirError,
  type FileHandleLike,
  type FileSystem,
  isBeauvoirErrorWithCode,
  isErrnoError,
  openPrivateFile,
} from "@beauvoir/core";
import { IndexIoError } from "./errors.js";
import { type DecodedJournal, decodeJournal, encodeJournalHeader } from "./journal-format.js";

const JOURNAL_NAME = /^journal\.(\d+)\.jsonl$/;

/**
 * @param generation - a journal generation.
 * @returns its file name, `journal.{generation}.jsonl`.
 */
export function journalName(generation: number): string {
  return `journal.${generation}.jsonl`;
}

/** A journal file as found on disk. */
export interface JournalFile {
  /** Absolute path. */
  readonly path: string;
  /** The `N` of `journal.N.jsonl`. */
  readonly generation: number;
  /** Its lines, decoded. */
  readonly decoded: DecodedJournal;
}

/**
 * Runs a filesystem call of the index, turning its failure into
 * {@link IndexIoError}; Beauvoir's own errors (a refused symlink, a held lock)
 * pass as they are.
 * @param operation - what is being done, for the message.
 * @param path - the file or directory.
 * @param call - the call.
 * @param systemErrorsOnly - wrap only Node system errors (`errno`/`syscall`),
 *   for calls into a caller's dependency whose own errors must pass unchanged.
 * @returns what the call returns.
 */
export async function indexIo<T>(
  operation: string,
  path: string,
  call: () => Promise<T>,
  systemErrorsOnly = false,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    // The owner lock's filesystem refusal is the index's own I/O failure to
    // its caller, named after the system error underneath.
    if (isBeauvoirErrorWithCode(error, "LOCK_IO_FAILED")) {
      throw new IndexIoError(operation, path, (error as Error).cause ?? error);
    }
    if (BeauvoirError.isInstance(error)) throw error;
    if (systemErrorsOnly && !isSystemError(error)) throw error;
    throw new IndexIoError(operation, path, error);
  }
}

function isSystemError(error: unknown): boolean {
  if (!isErrnoError(error)) return false;
  const { errno, syscall } = error as { errno?: unknown; syscall?: unknown };
  return typeof errno === "number" || typeof syscall === "string";
}

/**
 * Lists and decodes every `journal.N.jsonl` of `dir`, oldest generation first.
 * Each is opened with `O_NOFOLLOW`: a symbolic link there is refused, not read.
 * @param fs - the filesystem.
 * @param dir - the index directory.
 * @returns the journals.
 * @throws `SymlinkRefusedError` for a journal that is a symbolic link.
 * @throws {@link IndexIoError} when the directory or a journal cannot be read.
 */
export async function readJournalFiles(fs: FileSystem, dir: string): Promise<JournalFile[]> {
  const names = await indexIo("list", dir, () => fs.readdir(dir));
  const journals: Array<{ name: string; generation: number }> = [];
  for (const name of names) {
    const match = JOURNAL_NAME.exec(name);
    if (match) journals.push({ name, generation: Number(match[1]) });
  }
  journals.sort((a, b) => a.generation - b.generation);
  const files: JournalFile[] = [];
  for (const { name, generation } of journals) {
    const path = join(dir, name);
    const content = await indexIo("read", path, async () => {
      const handle = await openPrivateFile(fs, path, "read");
      try {
        return await handle.readFile();
      } finally {
        await handle.close();
      }
    });
    files.push({ path, generation, decoded: decodeJournal(content) });
  }
  return files;
}

/**
 * Creates `journal.{generation}.jsonl` whole: its header is written and
 * fsynced in a temporary file, which is then linked into place (never over an
 * existing file) and the directory fsynced. So a journal file either exists
 * with its header, durably, or not at all; a journal without its header was
 * cut short afterwards.
 * @param fs - the filesystem.
 * @param dir - the index directory.
 * @param generation - the new journal's generation.
 * @param afterSeq - the last `seq` before its first record.
 * @returns the journal, opened for appending, and its length.
 * @throws {@link JournalRotationError} when it failed after the link (the new
 *   journal may exist); what the filesystem threw when it failed before.
 */
export async function createJournal(
  fs: FileSystem,
  dir: string,
  generation: number,
  afterSeq: number,
): Promise<{ handle: FileHandleLike; path: string; length: number }> {
  const path = join(dir, journalName(generation));
  const tmp = `${path}.tmp`;
  const header = Buffer.from(encodeJournalHeader({ format: 2, generation, afterSeq }), "utf8");
  await removeIfPresent(fs, tmp);
  const draft = await openPrivateFile(fs, tmp, "create");
  try {
    let written = 0;
    while (written < header.length) {
      const { bytesWritten } = await draft.write(header, written, header.length - written, null);
      if (!(bytesWritten > 0)) throw new Error(`writing the header of ${tmp} made no progress`);
      written += bytesWritten;
    }
    await draft.sync();
  } catch (error) {
    await draft.close().catch(() => {});
    await removeIfPresent(fs, tmp).catch(() => {});
    throw error;
  }
  await draft.close();
  try {
    await fs.link(tmp, path);
  } catch (error) {
    await removeIfPresent(fs, tmp).catch(() => {});
    throw error;
  }
  // From here on the new journal may exist: any failure must stop the writer,
  // or records appended to the old journal would follow the new one's header.
  try {
    // A leftover tmp is harmless: the next rotation removes it first.
    await removeIfPresent(fs, tmp).catch(() => false);
    await fs.fsyncDirectory(dir);
    const handle = await openPrivateFile(fs, path, "append");
    return { handle, path, length: header.length };
  } catch (error) {
    throw new JournalRotationError(path, error);
  }
}

/**
 * @internal A rotation failed after the new journal was linked into the
 * directory, so whether it exists after a power cut is unknown: the writer
 * must stop.
 */
export class JournalRotationError extends Error {
  /** The new journal. */
  readonly path: string;

  /**
   * @param path - the new journal.
   * @param cause - the failure.
   */
  constructor(path: string, cause: unknown) {
    super(`could not make ${path} durable in its directory`, { cause });
    this.path = path;
  }
}

/**
 * Unlinks `path`, ignoring a file that is already gone.
 * @param fs - the filesystem.
 * @param path - the file.
 * @returns whether a file was removed.
 */
export async function removeIfPresent(fs: FileSystem, path: string): Promise<boolean> {
  try {
    await fs.unlink(path);
    return true;
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return false;
    throw error;
  }
}
