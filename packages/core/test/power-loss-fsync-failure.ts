// A failed fsync as Linux has it (Rebello et al., "Can Applications Recover
// from fsync Failures?", ATC '20): the dirty pages the fsync could not write
// are marked clean, so the file still reads back as written, but those bytes
// never reach the disk, not even through a later fsync that succeeds, unless
// they are written again. The crash-state filesystem alone keeps them dirty
// (a later fsync would write them), which hides what a program that trusts
// the page cache after a failed fsync gets wrong. Used by the fail-stop runs
// of the audit trail and of the idempotency index (a test helper kept here,
// next to the crash-state filesystem it wraps).
import { constants } from "node:fs";
import {
  type CrashStateFileSystem,
  type FileHandleLike,
  type FileSystem,
  isErrnoError,
} from "@beauvoir/core";

type Range = readonly [start: number, end: number];

/** Removes `cut` from each range of `ranges`. */
function subtract(ranges: readonly Range[], cut: Range): Range[] {
  return ranges.flatMap(([start, end]): Range[] => {
    if (cut[1] <= start || cut[0] >= end) return [[start, end]];
    return [
      ...(start < cut[0] ? [[start, cut[0]] as Range] : []),
      ...(cut[1] < end ? [[cut[1], end] as Range] : []),
    ];
  });
}

/** What the emulation knows of one file, by path. */
interface FileDurability {
  /** Written since the last fsync (successful or not). */
  dirty: Range[];
  /** Written before an fsync that failed, and not written (and fsynced) again since: zeros on disk. */
  lost: Range[];
}

/** A {@link FileSystem} whose chosen fsyncs fail as on Linux, and the disk that leaves. */
export interface FsyncFailureFileSystem extends FileSystem {
  /** Makes the next `sync()` of a handle of `path` fail with `EIO` (the call is not performed). */
  failNextSync(path: string): void;
  /** `sync()` calls made on handles so far, failed ones included. */
  readonly syncCalls: number;
  /**
   * The disk once everything written has been flushed: the crash-state
   * filesystem's durable layer, with the bytes of failed fsyncs that were not
   * written again since replaced by zeros. Take it when nothing is pending
   * but those bytes (after the code under test fsynced or closed its files);
   * a file with lost bytes must not have been renamed.
   */
  diskImage(): Promise<CrashStateFileSystem>;
}

/**
 * Wraps a crash-state filesystem so that chosen fsyncs fail with Linux's
 * semantics. Handles track their position to know which bytes a write
 * covers (appending handles write at the end).
 * @param base - the crash-state filesystem doing the calls.
 * @returns the wrapped filesystem.
 */
export function createFsyncFailureFileSystem(base: CrashStateFileSystem): FsyncFailureFileSystem {
  const files = new Map<string, FileDurability>();
  const failing = new Set<string>();
  let syncCalls = 0;
  const durabilityOf = (path: string): FileDurability => {
    let known = files.get(path);
    if (!known) {
      known = { dirty: [], lost: [] };
      files.set(path, known);
    }
    return known;
  };

  const wrap = (path: string, flags: string | number, handle: FileHandleLike): FileHandleLike => {
    const appending =
      typeof flags === "string" ? flags.startsWith("a") : (flags & constants.O_APPEND) !== 0;
    let position = 0;
    const file = durabilityOf(path);
    return {
      async write(buffer, offset = 0, length = buffer.length - offset, at) {
        const start =
          typeof at === "number" ? at : appending ? (await handle.stat()).size : position;
        const result = await handle.write(buffer, offset, length, at);
        if (typeof at !== "number") position = start + result.bytesWritten;
        file.dirty.push([start, start + result.bytesWritten]);
        return result;
      },
      async sync() {
        syncCalls++;
        if (failing.delete(path)) {
          file.lost.push(...file.dirty);
          file.dirty = [];
          throw Object.assign(new Error(`EIO: i/o error, fsync '${path}'`), {
            code: "EIO",
            syscall: "fsync",
            path,
          });
        }
        await handle.sync();
        for (const written of file.dirty) file.lost = subtract(file.lost, written);
        file.dirty = [];
      },
      async truncate(length = 0) {
        await handle.truncate(length);
        file.dirty = subtract(file.dirty, [length, Number.POSITIVE_INFINITY]);
        file.lost = subtract(file.lost, [length, Number.POSITIVE_INFINITY]);
      },
      stat: () => handle.stat(),
      readFile: () => handle.readFile(),
      close: () => handle.close(),
    };
  };

  return {
    open: async (path, flags, mode) => wrap(path, flags, await base.open(path, flags, mode)),
    readFile: (path) => base.readFile(path),
    rename: (from, to) => base.rename(from, to),
    link: (existingPath, newPath) => base.link(existingPath, newPath),
    unlink: (path) => base.unlink(path),
    readdir: (path) => base.readdir(path),
    stat: (path) => base.stat(path),
    mkdir: (path, options) => base.mkdir(path, options),
    fsyncDirectory: (path) => base.fsyncDirectory(path),
    failNextSync: (path) => {
      failing.add(path);
    },
    get syncCalls() {
      return syncCalls;
    },
    async diskImage() {
      const disk = base.durableImage();
      for (const [path, { lost }] of files) {
        if (lost.length === 0) continue;
        let handle: FileHandleLike;
        try {
          handle = await disk.open(path, "r+");
        } catch (error) {
          if (isErrnoError(error, "ENOENT")) continue;
          throw error;
        }
        const { size } = await handle.stat();
        for (const [start, end] of lost) {
          if (start >= size) continue;
          const zeros = Buffer.alloc(Math.min(end, size) - start);
          await handle.write(zeros, 0, zeros.length, start);
        }
        await handle.close();
      }
      disk.syncAll();
      return disk;
    },
  };
}
