import type { FileSystem } from "./file-system.js";

/**
 * `fs` with every `fsyncDirectory` call handed to `through`, every other call
 * unchanged: how a durable writer sends the directory fsyncs of
 * {@link ensureDurableDirectory} through its fail-stop latch, so a failed one
 * stops the writer like a failed file fsync does. Each method is forwarded
 * one by one (not spread), so a filesystem whose methods live on its class
 * keeps working.
 * @param fs - the filesystem.
 * @param through - runs `fsync` (that directory fsync on `fs`) its own way;
 *   `path` is the directory.
 * @returns the routed filesystem.
 * @example
 * ```ts
 * const latched = routeDirectoryFsyncs(fs, (fsync) => latch.fsync(directory, fsync));
 * await ensureDurableDirectory(latched, directory);
 * ```
 */
export function routeDirectoryFsyncs(
  fs: FileSystem,
  through: (fsync: () => Promise<void>, path: string) => Promise<void>,
): FileSystem {
  return {
    open: (path, flags, mode) => fs.open(path, flags, mode),
    readFile: (path) => fs.readFile(path),
    rename: (from, to) => fs.rename(from, to),
    link: (existingPath, newPath) => fs.link(existingPath, newPath),
    unlink: (path) => fs.unlink(path),
    readdir: (path) => fs.readdir(path),
    stat: (path) => fs.stat(path),
    mkdir: (path, options) => fs.mkdir(path, options),
    fsyncDirectory: (path) => through(() => fs.fsyncDirectory(path), path),
  };
}
