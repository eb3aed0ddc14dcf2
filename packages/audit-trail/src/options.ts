import type { Clock, FileSystem, Logger } from "@beauvoir/core";

/** The part of `@beauvoir/redactor`'s `SecretRedactor` the trail uses. */
export interface AuditRedactor {
  /** Returns a copy of `value` with secrets replaced; strings, objects and arrays at any depth. */
  redactAny(value: unknown): unknown;
}

/** Options of {@link AuditTrail}. */
export interface AuditTrailOptions {
  /** The file records are appended to, e.g. `/var/lib/agent/audit.jsonl`. Its directory is created (mode 0700) if missing. */
  path: string;
  /**
   * Signs every record with HMAC-SHA256 under this key (a string is used as
   * UTF-8) and checks signatures in `initialize()` and `verifyChain()`.
   * Without it records carry only their hash: tamper-evident against accidents,
   * not against someone who can rewrite the file.
   * @default undefined
   */
  hmacKey?: string | Uint8Array;
  /**
   * Rotate once the current file reaches this size, as soon as no intent is
   * waiting for its result. `Infinity` turns rotation off.
   * @default 10 MiB (10_485_760)
   */
  maxSizeBytes?: number;
  /**
   * `dry_run` records are not fsynced one by one: one fsync runs this long
   * after the first unsynced one (sooner if a durable record or `close()`
   * comes first). The timer is unref'd.
   * @default 100
   */
  dryRunFsyncDelayMs?: number;
  /** Redacts `params`, `result` and `error` before they are written. @default new SecretRedactor() */
  redactor?: AuditRedactor;
  /** Receives the recovery warning, rotation notices and fsync failures. @default silentLogger */
  logger?: Logger;
  /** Source of time (record `ts`, rotated file names) and of the dry-run timer. @default systemClock */
  clock?: Clock;
  /** Filesystem calls, for fault injection in tests. @default nodeFileSystem */
  fs?: FileSystem;
}

/**
 * Defaults of {@link AuditTrailOptions}.
 * @example
 * ```ts
 * new AuditTrail({ path, maxSizeBytes: 4 * AUDIT_TRAIL_DEFAULTS.maxSizeBytes });
 * ```
 */
export const AUDIT_TRAIL_DEFAULTS = Object.freeze({
  maxSizeBytes: 10 * 1024 * 1024,
  dryRunFsyncDelayMs: 100,
});
