import { basename } from "node:path";
import {
  type Clock,
  type FileSystem,
  type Logger,
  nodeFileSystem,
  silentLogger,
  systemClock,
} from "@beauvoir/core";
import { SecretRedactor } from "@beauvoir/redactor";
import { toKeyBytes } from "./hmac-key.js";

/** The part of `@beauvoir/redactor`'s `SecretRedactor` the trail uses. */
export interface AuditRedactor {
  /**
   * Returns a copy of `value` with secrets replaced; strings, objects and
   * arrays at any depth. A string must give a string. It should be idempotent
   * (redacting a redacted value changes nothing), as `SecretRedactor` is:
   * `findResultByDedupeKey()` redacts the key it is asked for the same way.
   */
  redactAny(value: unknown): unknown;
}

/** Options of {@link AuditTrail}. */
export interface AuditTrailOptions {
  /** The file records are appended to, e.g. `/var/lib/agent/audit.jsonl`. Its directory is created (mode 0700, made durable in its parent) if missing. */
  path: string;
  /**
   * Signs every record with HMAC-SHA256 under this key (a string is used as
   * UTF-8) and checks signatures in `initialize()` and `verifyChain()`: every
   * record of the history must then be signed, except unsigned records that a
   * `signing_started` record (written once by {@link startSigning}) covers.
   * Without it records carry only their hash: tamper-evident against
   * accidents, not against someone who can rewrite the file.
   * @default undefined
   */
  hmacKey?: string | Uint8Array | undefined;
  /**
   * Rotate once the current file has reached this size, before the next write
   * that finds no intent waiting for its result. `Infinity` turns rotation off.
   * @default 10 MiB (10_485_760)
   */
  maxSizeBytes?: number | undefined;
  /**
   * `dry_run` records are not fsynced one by one: one fsync runs this long
   * after the first unsynced one (sooner if a durable record or `close()`
   * comes first). The timer is unref'd.
   * @default 100
   */
  dryRunFsyncDelayMs?: number | undefined;
  /** Redacts every field carrying caller data (`action`, `target`, `dedupeKey`, `params`, `result`, `error`) before it is written. @default new SecretRedactor() */
  redactor?: AuditRedactor | undefined;
  /** Receives the recovery warning, rotation notices and write failures. @default silentLogger */
  logger?: Logger | undefined;
  /** Source of time (record `ts`, rotated file names) and of the dry-run timer. @default systemClock */
  clock?: Clock | undefined;
  /** Filesystem calls, for fault injection in tests. @default nodeFileSystem */
  fs?: FileSystem | undefined;
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

/** @internal {@link AuditTrailOptions} checked, with defaults applied. */
export interface ResolvedAuditTrailOptions {
  path: string;
  hmacKey: Uint8Array | undefined;
  maxSizeBytes: number;
  dryRunFsyncDelayMs: number;
  redactor: AuditRedactor;
  logger: Logger;
  clock: Clock;
  fs: FileSystem;
}

/** @internal The `FileSystem` calls the package makes. */
export const FILE_SYSTEM_METHODS = [
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

/**
 * Checks every option before anything touches the disk.
 * @throws TypeError or RangeError naming the option.
 */
export function resolveAuditTrailOptions(options: AuditTrailOptions): ResolvedAuditTrailOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object");
  }
  const path = resolvePath(options.path);
  const hmacKey =
    options.hmacKey === undefined ? undefined : toKeyBytes(options.hmacKey, "hmacKey");
  const maxSizeBytes = options.maxSizeBytes ?? AUDIT_TRAIL_DEFAULTS.maxSizeBytes;
  if (
    typeof maxSizeBytes !== "number" ||
    !(maxSizeBytes >= 1) ||
    (Number.isFinite(maxSizeBytes) && !Number.isInteger(maxSizeBytes))
  ) {
    throw new RangeError(
      `maxSizeBytes must be a whole number >= 1 or Infinity, got ${String(options.maxSizeBytes)}`,
    );
  }
  const dryRunFsyncDelayMs = options.dryRunFsyncDelayMs ?? AUDIT_TRAIL_DEFAULTS.dryRunFsyncDelayMs;
  if (
    typeof dryRunFsyncDelayMs !== "number" ||
    !Number.isFinite(dryRunFsyncDelayMs) ||
    dryRunFsyncDelayMs < 0
  ) {
    throw new RangeError(
      `dryRunFsyncDelayMs must be a finite number >= 0, got ${String(options.dryRunFsyncDelayMs)}`,
    );
  }
  if (options.redactor !== undefined && typeof options.redactor?.redactAny !== "function") {
    throw new TypeError("redactor must have a redactAny(value) method");
  }
  return {
    path,
    hmacKey,
    maxSizeBytes,
    dryRunFsyncDelayMs,
    redactor: options.redactor ?? new SecretRedactor(),
    logger:
      checkMethods(options.logger, "logger", ["debug", "info", "warn", "error"]) ?? silentLogger,
    clock:
      checkMethods(options.clock, "clock", ["now", "setTimeout", "clearTimeout"]) ?? systemClock,
    fs: checkMethods(options.fs, "fs", FILE_SYSTEM_METHODS) ?? nodeFileSystem,
  };
}

/**
 * Checks an audit file path: a non-empty string without NUL naming a file.
 * @throws TypeError naming `path`.
 */
export function resolvePath(path: unknown, option = "path"): string {
  if (typeof path !== "string" || path.length === 0) {
    throw new TypeError(`${option} must be a non-empty string`);
  }
  if (path.includes("\u0000")) throw new TypeError(`${option} must not contain a NUL character`);
  const name = basename(path);
  if (path.endsWith("/") || name === "" || name === "." || name === "..") {
    throw new TypeError(`${option} must name a file, got ${JSON.stringify(path)}`);
  }
  return path;
}

/**
 * @internal Checks an optional object option that must have the given methods.
 * @throws TypeError naming the option and the missing method.
 */
export function checkMethods<T>(
  value: T | undefined,
  option: string,
  methods: readonly string[],
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${option} must be an object with ${methods.join(", ")}`);
  }
  for (const method of methods) {
    if (typeof (value as Record<string, unknown>)[method] !== "function") {
      throw new TypeError(`${option} must have a ${method}() method`);
    }
  }
  return value;
}
