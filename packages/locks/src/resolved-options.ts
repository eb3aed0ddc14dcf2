import { resolve } from "node:path";
import {
  assertDurationOption,
  type Clock,
  type FileSystem,
  type Logger,
  nodeFileSystem,
  silentLogger,
  systemClock,
} from "@beauvoir/core";
import { LOCK_MANAGER_DEFAULTS, type LockLostEvent, type LockManagerOptions } from "./options.js";
import { isProcessAliveBySignal, systemBootId } from "./process-identity.js";

/** @internal A manager's options after defaults and checks. */
export interface ResolvedLockManagerOptions {
  readonly lockDir: string;
  readonly maxAgeMs: number;
  readonly renewIntervalMs: number;
  readonly corruptGraceMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly fsync: boolean;
  readonly bootId: string;
  readonly isProcessAlive: (pid: number) => boolean;
  readonly onLockLost: ((event: LockLostEvent) => void) | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly fs: FileSystem;
}

/** The calls the manager makes on its `fs`. */
const FILE_SYSTEM_CALLS = [
  "open",
  "link",
  "unlink",
  "readdir",
  "stat",
  "mkdir",
  "fsyncDirectory",
] as const satisfies ReadonlyArray<keyof FileSystem>;

/**
 * @internal Applies defaults and checks every option, so a mistake is a
 * `TypeError` or `RangeError` naming it at construction, never a failure in
 * the middle of taking a lock.
 */
export function resolveLockManagerOptions(options: LockManagerOptions): ResolvedLockManagerOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("LockManager options must be an object with a lockDir");
  }
  if (typeof options.lockDir !== "string" || options.lockDir.length === 0) {
    throw new TypeError("lockDir must be a non-empty string");
  }
  const maxAgeMs = assertDurationOption(
    options.maxAgeMs ?? LOCK_MANAGER_DEFAULTS.maxAgeMs,
    "maxAgeMs",
    { allowInfinity: true },
  );
  if (maxAgeMs === 0) throw new RangeError("maxAgeMs must be greater than 0");
  const renewIntervalMs = assertDurationOption(
    options.renewIntervalMs ?? maxAgeMs / 4,
    "renewIntervalMs",
    { allowInfinity: true },
  );
  if (renewIntervalMs === 0) throw new RangeError("renewIntervalMs must be greater than 0");
  if (Number.isFinite(maxAgeMs) && renewIntervalMs >= maxAgeMs) {
    throw new RangeError(
      `renewIntervalMs (${renewIntervalMs}) must be below maxAgeMs (${maxAgeMs}), or a live holder's lock would go stale`,
    );
  }
  const corruptGraceMs = assertDurationOption(
    options.corruptGraceMs ?? LOCK_MANAGER_DEFAULTS.corruptGraceMs,
    "corruptGraceMs",
    { allowInfinity: false },
  );
  const retryBaseMs = assertDurationOption(
    options.retryBaseMs ?? LOCK_MANAGER_DEFAULTS.retryBaseMs,
    "retryBaseMs",
    { allowInfinity: false },
  );
  const retryMaxMs = assertDurationOption(
    options.retryMaxMs ?? Math.max(LOCK_MANAGER_DEFAULTS.retryMaxMs, retryBaseMs),
    "retryMaxMs",
    { allowInfinity: false },
  );
  if (retryMaxMs < retryBaseMs) {
    throw new RangeError(
      `retryMaxMs (${retryMaxMs}) must be at least retryBaseMs (${retryBaseMs})`,
    );
  }
  if (options.fsync !== undefined && typeof options.fsync !== "boolean") {
    throw new TypeError("fsync must be a boolean");
  }
  if (
    options.bootId !== undefined &&
    (typeof options.bootId !== "string" || options.bootId.length === 0)
  ) {
    throw new TypeError("bootId must be a non-empty string");
  }
  if (options.isProcessAlive !== undefined && typeof options.isProcessAlive !== "function") {
    throw new TypeError("isProcessAlive must be a function (pid) => boolean");
  }
  if (options.onLockLost !== undefined && typeof options.onLockLost !== "function") {
    throw new TypeError("onLockLost must be a function");
  }
  return {
    lockDir: resolve(options.lockDir),
    maxAgeMs,
    renewIntervalMs,
    corruptGraceMs,
    retryBaseMs,
    retryMaxMs,
    fsync: options.fsync ?? true,
    bootId: options.bootId ?? systemBootId(),
    isProcessAlive: options.isProcessAlive ?? isProcessAliveBySignal,
    onLockLost: options.onLockLost,
    logger: assertLogger(options.logger ?? silentLogger),
    clock: assertClock(options.clock ?? systemClock),
    fs: assertFileSystem(options.fs ?? nodeFileSystem),
  };
}

function assertLogger(logger: Logger): Logger {
  const complete =
    typeof logger === "object" &&
    logger !== null &&
    (["debug", "info", "warn", "error"] as const).every(
      (level) => typeof logger[level] === "function",
    );
  if (!complete) throw new TypeError("logger must have debug, info, warn and error methods");
  return logger;
}

function assertClock(clock: Clock): Clock {
  const complete =
    typeof clock === "object" &&
    clock !== null &&
    (["now", "setTimeout", "clearTimeout"] as const).every(
      (method) => typeof clock[method] === "function",
    );
  if (!complete) {
    throw new TypeError(
      "clock must have now, setTimeout and clearTimeout (see Clock in @beauvoir/core)",
    );
  }
  return clock;
}

function assertFileSystem(fs: FileSystem): FileSystem {
  if (typeof fs !== "object" || fs === null) {
    throw new TypeError("fs must be a FileSystem object (see @beauvoir/core)");
  }
  for (const call of FILE_SYSTEM_CALLS) {
    if (typeof fs[call] !== "function") {
      throw new TypeError(`fs.${call} must be a function (see FileSystem in @beauvoir/core)`);
    }
  }
  return fs;
}
