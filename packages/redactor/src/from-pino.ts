import type { Clock } from "@beauvoir/core";
import { loggerSink } from "./log-sinks.js";
import { type BeauvoirLogger, createLogger, type LogThreshold } from "./logger.js";
import { SecretRedactor } from "./secret-redactor.js";

/** A pino logger, as {@link fromPino} uses it. */
export interface PinoLike {
  level: string;
  debug(data: object, message?: string): void;
  info(data: object, message?: string): void;
  warn(data: object, message?: string): void;
  error(data: object, message?: string): void;
}

/** Options of {@link fromPino}. */
export interface FromPinoOptions {
  /** Decides what a secret is. @default a `SecretRedactor` with its defaults */
  redactor?: SecretRedactor | undefined;
  /** Names the subsystem in every record (pino gets it as `prefix`). @default none */
  prefix?: string | undefined;
  /** @default systemClock */
  clock?: Clock | undefined;
}

const PINO_THRESHOLDS: Readonly<Record<string, LogThreshold>> = {
  trace: "debug",
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
  fatal: "error",
  silent: "silent",
};

/**
 * A redacting logger that writes into a pino logger: every record is
 * redacted first, then handed to pino data first (`pino.info({ ...data },
 * msg)`), an Error under `err` for pino's error serializer. Its level
 * follows pino's at the time of the call (`trace` → `debug`, `fatal` →
 * `error`).
 * @param target - a pino logger (or anything with its four methods and `level`).
 * @param options - the redactor, a prefix, the clock.
 * @returns the logger; pass it anywhere a Beauvoir logger goes (boot's `logger` initializer).
 * @throws TypeError when `target` lacks one of the four methods.
 * @example
 * ```ts
 * import pino from "pino";
 * const logger = fromPino(pino(), { redactor: new SecretRedactor() });
 * logger.error(new Error(`push to https://x:${token}@github.com failed`), "push failed");
 * ```
 */
export function fromPino(target: PinoLike, options: FromPinoOptions = {}): BeauvoirLogger {
  const redactor = options.redactor ?? new SecretRedactor();
  return createLogger(redactor, {
    level: PINO_THRESHOLDS[String(target?.level)] ?? "debug",
    sink: loggerSink(target, { argumentOrder: "data-first" }),
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}
