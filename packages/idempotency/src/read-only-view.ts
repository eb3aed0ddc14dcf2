import { constants } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { FileSystem } from "@beauvoir/core";

const WRITE_FLAGS =
  constants.O_WRONLY |
  constants.O_RDWR |
  constants.O_CREAT |
  constants.O_TRUNC |
  constants.O_APPEND;

function systemError(code: "ENOENT" | "EROFS", call: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${call} '${path}' (read-only view)`), {
    code,
    syscall: call,
    path,
  });
}

/**
 * A view of a filesystem that never changes it: reads go to `base`; renames
 * and unlinks are remembered and applied to what later reads see; anything
 * that would write data fails with `EROFS`. It lets `verifyIdempotencyIndex()`
 * run the snapshot store's own recovery (which may move a damaged file aside)
 * to learn what `initialize()` would load, without moving anything.
 * @param base - the real filesystem.
 * @returns the view.
 */
export function readOnlyView(base: FileSystem): FileSystem {
  /** Where each moved name's content really is. */
  const moved = new Map<string, string>();
  /** Names that no longer exist in the view. */
  const removed = new Set<string>();
  const resolve = (path: string, call: string): string => {
    if (removed.has(path)) throw systemError("ENOENT", call, path);
    return moved.get(path) ?? path;
  };
  return {
    open: async (path, flags, mode) => {
      const writes = typeof flags === "number" ? (flags & WRITE_FLAGS) !== 0 : !/^rs?$/.test(flags);
      if (writes) throw systemError("EROFS", "open", path);
      return base.open(resolve(path, "open"), flags, mode);
    },
    readFile: async (path) => base.readFile(resolve(path, "open")),
    stat: async (path) => base.stat(resolve(path, "stat")),
    readdir: async (path) => {
      const names = new Set(
        (await base.readdir(path)).filter((name) => !removed.has(join(path, name))),
      );
      for (const target of moved.keys()) if (dirname(target) === path) names.add(basename(target));
      return [...names];
    },
    rename: async (from, to) => {
      const source = resolve(from, "rename");
      await base.stat(source);
      moved.delete(from);
      removed.add(from);
      removed.delete(to);
      moved.set(to, source);
    },
    unlink: async (path) => {
      await base.stat(resolve(path, "unlink"));
      moved.delete(path);
      removed.add(path);
    },
    link: async (_existing, newPath) => {
      throw systemError("EROFS", "link", newPath);
    },
    mkdir: async (path) => {
      throw systemError("EROFS", "mkdir", path);
    },
    fsyncDirectory: async () => {},
  };
}
