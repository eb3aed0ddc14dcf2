import {
  applyOperation,
  type EntryChange,
  entryKeys,
  isDataOperation,
  type PendingDataOperation,
  type PendingNamespaceOperation,
  type PendingOperation,
} from "./crash-state-operations.js";
import type { FileTree, Inode } from "./crash-state-tree.js";

/**
 * @internal The two layers of the crash-state filesystem and what lies
 * between them: the page cache (`live`, what the program sees), the disk
 * (`durable`), and the pending operations, with the rules that move an
 * operation from one to the other:
 * - a data operation (write, truncate) once its file is synced, after the
 *   file's earlier data operations;
 * - a namespace operation (create, mkdir, link, unlink, rename) once every
 *   directory it changes was fsynced after it, after the earlier operations
 *   on the same directory entries.
 * Every change is applied to the page cache at once and recorded as pending,
 * so the page cache is always the durable layer plus every pending operation.
 */
export class DurabilityLayers {
  /** What the running program sees. */
  readonly live: FileTree;
  /** What the disk holds. Read-only outside this class. */
  readonly durable: FileTree;
  readonly #now: () => number;
  /** Bumped on every change of the durable layer, so snapshots copy it only when it changed. */
  #durableVersion = 0;
  #snapshot: { version: number; tree: FileTree } | undefined;
  #pending: PendingOperation[] = [];
  /** Per pending namespace operation, the directories whose fsync it still waits for. */
  readonly #awaitedDirectories = new Map<number, Set<number>>();
  /** Pending data operations whose file was synced (they wait only for earlier ones). */
  readonly #syncedData = new Set<number>();
  /** Per directory entry (`{directory}/{name}`), the last operation that changed it. */
  readonly #lastEntryChange = new Map<string, number>();
  /** Per file inode, its last data operation. */
  readonly #lastDataChange = new Map<number, number>();
  #nextInode: number;
  #nextOperation = 1;

  /**
   * @param tree - the starting state, durable.
   * @param now - the clock, for mtimes.
   */
  constructor(tree: FileTree, now: () => number) {
    this.live = tree.clone();
    this.durable = tree.clone();
    this.#now = now;
    this.#nextInode = tree.highestInode() + 1;
  }

  /** The pending operations, in the order they were made. */
  get pending(): readonly PendingOperation[] {
    return this.#pending;
  }

  /** A copy of the durable layer that later changes do not touch (shared until the layer changes). */
  durableSnapshot(): FileTree {
    if (this.#snapshot?.version !== this.#durableVersion) {
      this.#snapshot = { version: this.#durableVersion, tree: this.durable.clone() };
    }
    return this.#snapshot.tree;
  }

  /** A new inode, in both layers: on disk it is unreachable until an entry naming it is durable. */
  allocate(node: Inode): number {
    const inode = this.#nextInode++;
    this.live.set(inode, node);
    this.durable.set(inode, node);
    this.#durableVersion++;
    return inode;
  }

  /** Records an atomic change of directory entries, pending until its directories are fsynced. */
  changeEntries(
    kind: PendingNamespaceOperation["kind"],
    changes: EntryChange[],
    description: string,
  ): void {
    const keys = entryKeys(changes);
    const id = this.#nextOperation++;
    const operation: PendingNamespaceOperation = {
      id,
      kind,
      changes,
      directories: [...new Set(changes.map((change) => change.directory))],
      dependsOn: this.#pendingPredecessors(keys.map((key) => this.#lastEntryChange.get(key))),
      mtimeMs: this.#now(),
      description: `#${id} ${description}`,
    };
    for (const key of keys) this.#lastEntryChange.set(key, id);
    this.#awaitedDirectories.set(id, new Set(operation.directories));
    this.#record(operation);
  }

  /** Records a write, pending until its file is synced. */
  write(inode: number, position: number, bytes: Buffer, path: string): void {
    this.#recordData({
      kind: "write",
      inode,
      position,
      bytes,
      length: 0,
      description: `write ${path} [${position}, ${position + bytes.length})`,
    });
  }

  /** Records a truncation, pending until its file is synced. */
  truncate(inode: number, length: number, path: string): void {
    this.#recordData({
      kind: "truncate",
      inode,
      position: 0,
      bytes: Buffer.alloc(0),
      length,
      description: `truncate ${path} to ${length}`,
    });
  }

  /** fsync of a file: its pending data operations become durable. */
  syncFile(inode: number): void {
    for (const operation of this.#pending) {
      if (isDataOperation(operation) && operation.inode === inode) {
        this.#syncedData.add(operation.id);
      }
    }
    this.#promoteReady();
  }

  /** fsync of a directory: the pending changes of its entries become durable, once their other directories are. */
  syncDirectory(inode: number): void {
    for (const awaited of this.#awaitedDirectories.values()) awaited.delete(inode);
    this.#promoteReady();
  }

  /** Everything becomes durable. */
  syncAll(): void {
    for (const operation of this.#pending) {
      if (isDataOperation(operation)) this.#syncedData.add(operation.id);
      else this.#awaitedDirectories.get(operation.id)?.clear();
    }
    this.#promoteReady();
  }

  /** Applies a change of entries to both layers at once, as if it had always been on disk. */
  changeEntriesDurably(changes: EntryChange[], description: string): void {
    const operation: PendingNamespaceOperation = {
      id: 0,
      kind: "link",
      changes,
      directories: [...new Set(changes.map((change) => change.directory))],
      dependsOn: [],
      mtimeMs: this.#now(),
      description,
    };
    applyOperation(this.live, operation);
    this.#applyDurably(operation);
  }

  #recordData(fields: Omit<PendingDataOperation, "id" | "dependsOn" | "mtimeMs">): void {
    const id = this.#nextOperation++;
    const operation: PendingDataOperation = {
      ...fields,
      id,
      dependsOn: this.#pendingPredecessors([this.#lastDataChange.get(fields.inode)]),
      mtimeMs: this.#now(),
      description: `#${id} ${fields.description}`,
    };
    this.#lastDataChange.set(fields.inode, id);
    this.#record(operation);
  }

  #pendingPredecessors(candidates: Array<number | undefined>): number[] {
    const pendingIds = new Set(this.#pending.map((operation) => operation.id));
    return [...new Set(candidates)].filter(
      (id): id is number => id !== undefined && pendingIds.has(id),
    );
  }

  #record(operation: PendingOperation): void {
    applyOperation(this.live, operation);
    this.#pending.push(operation);
  }

  /** Moves to the durable layer every pending operation that is ready and whose predecessors are durable. */
  #promoteReady(): void {
    const stillPending = new Set(this.#pending.map((operation) => operation.id));
    const kept: PendingOperation[] = [];
    for (const operation of this.#pending) {
      const ready = isDataOperation(operation)
        ? this.#syncedData.has(operation.id)
        : this.#awaitedDirectories.get(operation.id)?.size === 0;
      // Predecessors come earlier in the list, so one pass sees them promoted first.
      if (ready && operation.dependsOn.every((id) => !stillPending.has(id))) {
        this.#applyDurably(operation);
        stillPending.delete(operation.id);
        this.#syncedData.delete(operation.id);
        this.#awaitedDirectories.delete(operation.id);
      } else {
        kept.push(operation);
      }
    }
    this.#pending = kept;
  }

  #applyDurably(operation: PendingOperation): void {
    applyOperation(this.durable, operation);
    this.#durableVersion++;
  }
}
