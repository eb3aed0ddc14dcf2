import { type FileHandleLike, type FileSystem, nodeFileSystem } from "@beauvoir/core";

/** A filesystem call, as seen by a {@link FaultHook}. */
export type FileOperation =
  | "open"
  | "readFile"
  | "rename"
  | "unlink"
  | "readdir"
  | "stat"
  | "mkdir"
  | "fsyncDirectory"
  | "write"
  | "sync"
  | "truncate"
  | "close";

/**
 * Called before every filesystem call. Throw to make the call fail. For
 * `write`, return a number to write at most that many bytes (a short write).
 */
export type FaultHook = (operation: FileOperation, path: string) => undefined | number;

/** Wraps the real filesystem so a test can count calls and inject failures. */
export function faultyFileSystem(hook: FaultHook, base: FileSystem = nodeFileSystem): FileSystem {
  const wrapHandle = (handle: FileHandleLike, path: string): FileHandleLike => ({
    write(buffer, offset = 0, length = buffer.length - offset, position = null) {
      const limit = hook("write", path);
      return handle.write(
        buffer,
        offset,
        limit === undefined ? length : Math.min(limit, length),
        position,
      );
    },
    async sync() {
      hook("sync", path);
      await handle.sync();
    },
    async truncate(length) {
      hook("truncate", path);
      await handle.truncate(length);
    },
    stat: () => handle.stat(),
    readFile: () => handle.readFile(),
    async close() {
      hook("close", path);
      await handle.close();
    },
  });
  return {
    async open(path, flags, mode) {
      hook("open", path);
      return wrapHandle(await base.open(path, flags, mode), path);
    },
    async readFile(path) {
      hook("readFile", path);
      return base.readFile(path);
    },
    async rename(from, to) {
      hook("rename", from);
      return base.rename(from, to);
    },
    async unlink(path) {
      hook("unlink", path);
      return base.unlink(path);
    },
    async readdir(path) {
      hook("readdir", path);
      return base.readdir(path);
    },
    async stat(path) {
      hook("stat", path);
      return base.stat(path);
    },
    async mkdir(path, options) {
      hook("mkdir", path);
      return base.mkdir(path, options);
    },
    async fsyncDirectory(path) {
      hook("fsyncDirectory", path);
      return base.fsyncDirectory(path);
    },
  };
}
