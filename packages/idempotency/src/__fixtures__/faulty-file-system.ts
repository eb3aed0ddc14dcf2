import {
  createFaultyFileSystem,
  type FileSystem,
  type FileSystemOperation,
  nodeFileSystem,
} from "@beauvoir/core";

/**
 * A filesystem call, as seen by a {@link FaultHook}: every call of core's
 * faulty filesystem except a handle's `stat` and `readFile`, which these tests
 * never fault and whose counts they do not expect.
 */
export type FileOperation = Exclude<FileSystemOperation, "handleStat" | "handleReadFile">;

/**
 * Called before every filesystem call. Throw to make the call fail. For
 * `write`, return a number to write at most that many bytes (a short write).
 */
export type FaultHook = (operation: FileOperation, path: string) => undefined | number;

/**
 * Wraps the real filesystem so a test can count calls and inject failures: a
 * hook-shaped adapter over `@beauvoir/core`'s `createFaultyFileSystem`.
 */
export function faultyFileSystem(hook: FaultHook, base: FileSystem = nodeFileSystem): FileSystem {
  return createFaultyFileSystem({
    base,
    inject: ({ operation, path }) => {
      if (operation === "handleStat" || operation === "handleReadFile") return undefined;
      const limit = hook(operation, path);
      return limit === undefined ? undefined : { shortWrite: limit };
    },
  });
}
