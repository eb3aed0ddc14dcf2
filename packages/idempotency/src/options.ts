import type { Clock, FileSystem, Logger } from "@beauvoir/core";
import type { CompensationStrategy, IdempotencyEntry } from "./entry.js";
import type { IndexRedactor } from "./redaction.js";
import type { IdempotencySnapshot } from "./snapshot.js";

/** How `markPending()` treats a key that is already pending in this process. */
export type PendingConflictMode = "skip" | "wait" | "fail";

/**
 * What an audit trail says about an intent: a result record exists (with an
 * `error` when the side effect failed), or nothing was recorded.
 */
export interface AuditResultLookup {
  /** `false` means "no result"; any other value (or absence) means a result record exists. */
  hasResult?: boolean;
  /** The recorded error, when the side effect failed. */
  error?: string | undefined;
  /** The recorded result. */
  result?: unknown;
}

/** The audit-trail lookup `reconcilePending()` uses; `@beauvoir/audit-trail`'s `AuditTrail` fits. */
export type AuditQuery =
  | {
      findResultByIntentSeq(
        intentSeq: number,
      ): AuditResultLookup | null | undefined | Promise<AuditResultLookup | null | undefined>;
    }
  | ((
      intentSeq: number,
    ) => AuditResultLookup | null | undefined | Promise<AuditResultLookup | null | undefined>);

/**
 * Where compaction keeps its snapshot; `@beauvoir/resilient-store`'s
 * `ResilientJsonStore` fits. The index relies on the store keeping the
 * snapshot it replaces as a backup and serving it when the newest one is
 * damaged (the journals that backup needs are kept for it); a store without
 * a backup works too, with less to fall back on.
 */
export interface SnapshotStore {
  /** The last snapshot written, or `null` when there is none. */
  get(): Promise<IdempotencySnapshot | null>;
  /** Replaces the snapshot; resolves once it is durable. */
  set(snapshot: IdempotencySnapshot): Promise<void>;
  /** Its file, for messages (the resilient store has one). */
  readonly path?: string;
}

/** A held lock. */
export interface OwnerLockHandle {
  /** Gives the lock back (the value it resolves to is ignored). */
  release(): unknown;
}

/** Where the owner lock comes from; `@beauvoir/locks`' `LockManager` fits. */
export interface OwnerLockProvider {
  /** Takes the named lock or throws (`LOCK_HELD`) when a live process holds it. */
  acquire(name: string, options?: { waitMs?: number }): Promise<OwnerLockHandle>;
}

/** Options of `new IdempotencyIndex(options)`. */
export interface IdempotencyIndexOptions {
  /**
   * Directory holding the journal, the snapshot and (without `locks`) the
   * owner lock. Created (0700, durably in its parent) if missing.
   */
  dir: string;
  /**
   * Snapshot store used by compaction.
   * @default a `ResilientJsonStore` at `{dir}/snapshot.json`
   */
  store?: SnapshotStore | undefined;
  /**
   * Lock manager for the owner lock taken at `initialize()` and released at `close()`.
   * @default a `LockManager` on `{dir}/locks`
   */
  locks?: OwnerLockProvider | undefined;
  /** Name of the owner lock. @default "idempotency-index" */
  lockName?: string | undefined;
  /** How long `initialize()` waits for the owner lock. @default 0 */
  lockWaitMs?: number | undefined;
  /**
   * How long a settled key is remembered: `evict()` drops completed and failed
   * entries whose last transition is at least this old, after which the same
   * key is a new side effect again. @default 604_800_000 (7 days)
   */
  ttlMs?: number | undefined;
  /** Strategies per action, merged over `DEFAULT_COMPENSATION`. @default {} */
  compensation?: Partial<Record<string, CompensationStrategy>> | undefined;
  /** What `markPending()` does when the key is pending in this process. @default "skip" */
  onPendingConflict?: PendingConflictMode | undefined;
  /** In `"wait"` mode, how long `markPending()` waits for the key to settle. @default 30_000 */
  waitTimeoutMs?: number | undefined;
  /** Lets `reconcilePending()` settle pending entries from the audit trail. @default undefined */
  auditQuery?: AuditQuery | undefined;
  /**
   * Journal records after which the journal is compacted into the snapshot;
   * the effective threshold is the larger of this and the number of entries,
   * so compaction stays O(1) per transition, amortized.
   * @default 1000
   */
  compactionThreshold?: number | undefined;
  /** Largest snapshot the default store accepts. @default 268_435_456 (256 MiB) */
  snapshotMaxBytes?: number | undefined;
  /**
   * Hides secrets in everything the index writes: results (`redactAny`), error
   * texts, action names and the visible part of derived keys (`redact`).
   * @default a `SecretRedactor` from `@beauvoir/redactor`
   */
  redactor?: IndexRedactor | undefined;
  /** @default silentLogger */
  logger?: Logger | undefined;
  /** @default systemClock */
  clock?: Clock | undefined;
  /** @default nodeFileSystem */
  fs?: FileSystem | undefined;
}

/** Defaults of {@link IdempotencyIndexOptions}. */
export const IDEMPOTENCY_INDEX_DEFAULTS = Object.freeze({
  lockName: "idempotency-index",
  lockWaitMs: 0,
  ttlMs: 7 * 24 * 60 * 60 * 1000,
  onPendingConflict: "skip" as PendingConflictMode,
  waitTimeoutMs: 30_000,
  compactionThreshold: 1000,
  snapshotMaxBytes: 256 * 1024 * 1024,
});

/** Per-call options of `markPending()`. */
export interface MarkPendingOptions {
  /** Strategy stored with the entry. @default `getStrategy(action)` */
  strategy?: CompensationStrategy | undefined;
  /** Action stored with the entry. @default the key's first segment */
  action?: string | undefined;
  /**
   * Re-claim a key that is pending in this process (e.g. a step whose side
   * effect was refused before it started). The caller asserts nobody is
   * running it. @default false
   */
  takeover?: boolean | undefined;
  /** Cancels a `"wait"`-mode wait. */
  signal?: AbortSignal | undefined;
}

/** What `markPending()` did. */
export type MarkPendingResult =
  | {
      /** The key is now pending for this caller, durably: run the side effect. */
      readonly claimed: true;
      /** The new entry. */
      readonly entry: IdempotencyEntry;
    }
  | {
      /** The key was not claimed: do not run the side effect. */
      readonly claimed: false;
      /** Why: still pending elsewhere in this process (skip mode), or already settled. */
      readonly reason: "pending" | "completed" | "failed";
      /** The entry that holds the key. */
      readonly entry: IdempotencyEntry;
    };
