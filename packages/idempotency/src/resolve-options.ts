import {
  assertSafeName,
  type Clock,
  type FileSystem,
  type Logger,
  nodeFileSystem,
  silentLogger,
  systemClock,
} from "@beauvoir/core";
import {
  type AuditQuery,
  IDEMPOTENCY_INDEX_DEFAULTS,
  type IdempotencyIndexOptions,
  type OwnerLockProvider,
  type PendingConflictMode,
  type SnapshotStore,
} from "./options.js";
import { defaultRedactor, type IndexRedactor } from "./redaction.js";

/** {@link IdempotencyIndexOptions} after defaults and checks. */
export interface ResolvedOptions {
  readonly dir: string;
  readonly lockName: string;
  readonly lockWaitMs: number;
  readonly ttlMs: number;
  readonly onPendingConflict: PendingConflictMode;
  readonly waitTimeoutMs: number;
  readonly compactionThreshold: number;
  readonly snapshotMaxBytes: number;
  readonly auditQuery: AuditQuery | undefined;
  readonly store: SnapshotStore | undefined;
  readonly locks: OwnerLockProvider | undefined;
  readonly redactor: IndexRedactor;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly fs: FileSystem;
}

const FILE_SYSTEM_CALLS = [
  "open",
  "readFile",
  "rename",
  "link",
  "unlink",
  "readdir",
  "stat",
  "mkdir",
  "fsyncDirectory",
] as const;

function requireNumber(name: string, value: unknown, minimum: number, integer = false): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number`);
  }
  if (value < minimum || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `${name} must be a finite ${integer ? "integer" : "number"} >= ${minimum} (got ${value})`,
    );
  }
  return value;
}

/**
 * Checks that `value` is undefined or an object with the named methods.
 * @param name - the option.
 * @param value - its value.
 * @param methods - the methods it must have.
 * @returns the value.
 * @throws TypeError naming the option and the first missing method.
 */
export function requireMethods<T>(name: string, value: T, methods: readonly string[]): T {
  if (value === undefined) return value;
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${name} must be an object with ${methods.join(", ")}`);
  }
  for (const method of methods) {
    if (typeof (value as Record<string, unknown>)[method] !== "function") {
      throw new TypeError(`${name}.${method} must be a function`);
    }
  }
  return value;
}

/**
 * Checks the directory option shared by the index, `verifyIdempotencyIndex()`
 * and `repairIdempotencyIndex()`.
 * @param dir - the option's value.
 * @returns the directory.
 * @throws TypeError for anything but a non-empty path without NUL bytes.
 */
export function requireDirectory(dir: unknown): string {
  if (typeof dir !== "string" || dir.length === 0 || dir.includes("\0")) {
    throw new TypeError("dir must be a non-empty path");
  }
  return dir;
}

/**
 * Checks the options shared with `verifyIdempotencyIndex()` and
 * `repairIdempotencyIndex()` (filesystem, clock, logger, store, locks, redactor).
 * @param options - the caller's options.
 * @returns the checked values, with defaults.
 * @throws TypeError naming the option that is wrong.
 */
export function resolveDependencies(options: {
  fs?: FileSystem | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
  store?: SnapshotStore | undefined;
  locks?: OwnerLockProvider | undefined;
  redactor?: IndexRedactor | undefined;
  lockName?: string | undefined;
}) {
  const lockName = options.lockName ?? IDEMPOTENCY_INDEX_DEFAULTS.lockName;
  assertSafeName(lockName);
  return {
    lockName,
    fs: requireMethods("fs", options.fs, FILE_SYSTEM_CALLS) ?? nodeFileSystem,
    clock:
      requireMethods("clock", options.clock, ["now", "setTimeout", "clearTimeout"]) ?? systemClock,
    logger:
      requireMethods("logger", options.logger, ["debug", "info", "warn", "error"]) ?? silentLogger,
    store: requireMethods("store", options.store, ["get", "set"]),
    locks: requireMethods("locks", options.locks, ["acquire"]),
    redactor:
      requireMethods("redactor", options.redactor, ["redact", "redactAny"]) ?? defaultRedactor(),
  };
}

/**
 * Merges the caller's options with {@link IDEMPOTENCY_INDEX_DEFAULTS} and
 * checks every one, so a mistake is reported before anything touches the disk.
 * @param options - the caller's options.
 * @returns the resolved options, frozen.
 * @throws TypeError or RangeError naming the option that is wrong.
 */
export function resolveOptions(options: IdempotencyIndexOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object");
  }
  const dir = requireDirectory(options.dir);
  const defaults = IDEMPOTENCY_INDEX_DEFAULTS;
  const mode = options.onPendingConflict ?? defaults.onPendingConflict;
  if (mode !== "skip" && mode !== "wait" && mode !== "fail") {
    throw new TypeError(
      `onPendingConflict must be "skip", "wait" or "fail" (got ${JSON.stringify(mode)})`,
    );
  }
  const auditQuery = options.auditQuery;
  if (
    auditQuery !== undefined &&
    typeof auditQuery !== "function" &&
    typeof (auditQuery as { findResultByIntentSeq?: unknown } | null)?.findResultByIntentSeq !==
      "function"
  ) {
    throw new TypeError(
      "auditQuery must be a function or an object with findResultByIntentSeq(intentSeq)",
    );
  }
  return Object.freeze({
    dir,
    ...resolveDependencies(options),
    lockWaitMs: requireNumber("lockWaitMs", options.lockWaitMs ?? defaults.lockWaitMs, 0),
    ttlMs: requireNumber("ttlMs", options.ttlMs ?? defaults.ttlMs, 1),
    onPendingConflict: mode,
    waitTimeoutMs: requireNumber(
      "waitTimeoutMs",
      options.waitTimeoutMs ?? defaults.waitTimeoutMs,
      0,
    ),
    compactionThreshold: requireNumber(
      "compactionThreshold",
      options.compactionThreshold ?? defaults.compactionThreshold,
      1,
      true,
    ),
    snapshotMaxBytes: requireNumber(
      "snapshotMaxBytes",
      options.snapshotMaxBytes ?? defaults.snapshotMaxBytes,
      1,
      true,
    ),
    auditQuery,
  });
}
