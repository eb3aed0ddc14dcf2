import type { DirectoryInode, FileTree } from "./crash-state-tree.js";

/** One change to one directory entry: the name now holds `inode`, or nothing. */
export interface EntryChange {
  /** Inode number of the directory. */
  readonly directory: number;
  readonly name: string;
  /** The inode the name now holds; `null` removes the name. */
  readonly inode: number | null;
}

/** Fields every pending operation has. */
interface PendingOperationBase {
  /** Order of the operation among all the filesystem's operations, from 1. */
  readonly id: number;
  /** What happened, for reports: `"write /data/x.tmp [0, 120)"`. */
  readonly description: string;
  /**
   * The pending operations that must be durable before this one can be
   * (see {@link PendingNamespaceOperation} and {@link PendingDataOperation}).
   */
  readonly dependsOn: readonly number[];
  /** Clock time of the call, the new mtime. */
  readonly mtimeMs: number;
}

/**
 * A write or a truncation of one file (inode), waiting for that file's
 * `sync()`. Each file's data operations depend on its earlier pending ones:
 * they reach the disk in the order they were made.
 */
export interface PendingDataOperation extends PendingOperationBase {
  readonly kind: "write" | "truncate";
  /** Inode number of the file. */
  readonly inode: number;
  /** For `write`: where the bytes go. */
  readonly position: number;
  /** For `write`: the bytes. */
  readonly bytes: Buffer;
  /** For `truncate`: the new size. */
  readonly length: number;
}

/**
 * A change to directory entries (`create`, `mkdir`, `link`, `unlink`,
 * `rename`), atomic, waiting for an `fsyncDirectory()` of each directory it
 * touches. It depends on the earlier pending operations that changed one of
 * the same entries: each name's history reaches the disk in order.
 */
export interface PendingNamespaceOperation extends PendingOperationBase {
  readonly kind: "create" | "mkdir" | "link" | "unlink" | "rename";
  readonly changes: readonly EntryChange[];
  /** Inode numbers of the directories whose fsync makes it durable (all of them are needed). */
  readonly directories: readonly number[];
}

/** An operation the page cache holds and the disk may not. */
export type PendingOperation = PendingDataOperation | PendingNamespaceOperation;

/** @internal Tells a data operation from a namespace one. */
export function isDataOperation(operation: PendingOperation): operation is PendingDataOperation {
  return operation.kind === "write" || operation.kind === "truncate";
}

/**
 * @internal Applies one operation to a tree, or only the first `keepBytes`
 * bytes of a write (a torn write).
 */
export function applyOperation(
  tree: FileTree,
  operation: PendingOperation,
  keepBytes?: number,
): void {
  if (isDataOperation(operation)) {
    const file = tree.file(operation.inode);
    let data: Buffer;
    if (operation.kind === "truncate") {
      data = Buffer.alloc(operation.length);
      file.data.copy(data, 0, 0, Math.min(operation.length, file.data.length));
    } else {
      const bytes =
        keepBytes === undefined ? operation.bytes : operation.bytes.subarray(0, keepBytes);
      const end = operation.position + bytes.length;
      data = Buffer.alloc(Math.max(file.data.length, end));
      file.data.copy(data);
      bytes.copy(data, operation.position);
    }
    tree.set(operation.inode, { ...file, data, mtimeMs: operation.mtimeMs });
    return;
  }
  const changed = new Map<number, Map<string, number>>();
  for (const change of operation.changes) {
    let entries = changed.get(change.directory);
    if (!entries) {
      entries = new Map(tree.directory(change.directory).entries);
      changed.set(change.directory, entries);
    }
    if (change.inode === null) entries.delete(change.name);
    else entries.set(change.name, change.inode);
  }
  for (const [directory, entries] of changed) {
    const node: DirectoryInode = tree.directory(directory);
    tree.set(directory, { ...node, entries, mtimeMs: operation.mtimeMs });
  }
}

/** @internal The keys of the entries an operation changes, for dependency tracking. */
export function entryKeys(changes: readonly EntryChange[]): string[] {
  return changes.map((change) => `${change.directory}/${change.name}`);
}
