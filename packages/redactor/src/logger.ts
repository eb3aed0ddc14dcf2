import { type Clock, type Logger, systemClock } from "@beauvoir/core";
import { consoleSink, type LogLevel, type LogRecord, type LogSink } from "./log-sinks.js";
import { isErrorLike } from "./redaction-walker.js";
import type { SecretRedactor } from "./secret-redactor.js";

/** A level filter: the lowest level that is emitted, or `"silent"` for none. */
export type LogThreshold = LogLevel | "silent";

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /**
   * The lowest level emitted. When not given, `BEAUVOIR_LOG_LEVEL` from the
   * environment is used if it names a level; otherwise `"info"`.
   * @default process.env.BEAUVOIR_LOG_LEVEL ?? "info"
   */
  level?: LogThreshold | undefined;
  /** Names the subsystem in every record, e.g. `"audit-trail"`. @default none */
  prefix?: string | undefined;
  /** Where records go. @default consoleSink() */
  sink?: LogSink | undefined;
  /** Source of record times, for tests. @default systemClock */
  clock?: Clock | undefined;
}

/** Defaults applied to every {@link LoggerOptions}. */
export const LOGGER_DEFAULTS = Object.freeze({ level: "info" as LogThreshold });

/** The environment variable read when `level` is not given. */
export const LOG_LEVEL_ENVIRONMENT_VARIABLE = "BEAUVOIR_LOG_LEVEL";

/**
 * What a log call carries besides its message: fields, or an Error (which
 * lands under `err`, where pino puts it).
 */
export type LogData = Record<string, unknown> | Error;

/** Marks the loggers {@link createLogger} makes, across copies of this package. */
const BEAUVOIR_LOGGER = Symbol.for("@beauvoir/redactor:logger");

/**
 * The logger every Beauvoir package writes to: core's `Logger` with
 * redaction of the message, the data and any error before a sink sees them.
 * Each level takes our argument order, `(message, data?)`, and pino's,
 * `(data, message?)`: `logger.error(err, "push failed")` works as in pino.
 */
export interface BeauvoirLogger extends Logger {
  debug(message: string, data?: LogData): void;
  debug(data: LogData, message?: string): void;
  info(message: string, data?: LogData): void;
  info(data: LogData, message?: string): void;
  warn(message: string, data?: LogData): void;
  warn(data: LogData, message?: string): void;
  error(message: string, data?: LogData): void;
  error(data: LogData, message?: string): void;
  /** The level filter in force. */
  readonly level: LogThreshold;
  /** @returns whether a record of `level` would be emitted (to skip costly data). */
  isLevelEnabled(level: LogLevel): boolean;
  /**
   * A logger for a subsystem that shares this one's sink, level and redactor.
   * A string extends the prefix (`"beauvoir"` → `"beauvoir:audit"`); an object
   * adds fields (redacted once, here) to every record, under the call's data.
   */
  child(prefixOrBindings: string | Record<string, unknown>): BeauvoirLogger;
}

const RANK: Record<LogThreshold, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

const isThreshold = (value: unknown): value is LogThreshold =>
  typeof value === "string" && Object.hasOwn(RANK, value);

interface LoggerState {
  readonly redactor: SecretRedactor;
  readonly level: LogThreshold;
  readonly sink: LogSink;
  readonly clock: Clock;
  readonly prefix: string | undefined;
  readonly bindings: Readonly<Record<string, unknown>> | undefined;
}

class RedactingLogger implements BeauvoirLogger {
  readonly #state: LoggerState;
  readonly #rank: number;
  readonly [BEAUVOIR_LOGGER] = true;

  constructor(state: LoggerState) {
    this.#state = state;
    this.#rank = RANK[state.level];
  }

  get level(): LogThreshold {
    return this.#state.level;
  }

  isLevelEnabled(level: LogLevel): boolean {
    return RANK[level] >= this.#rank;
  }

  debug(first: string | LogData, second?: LogData | string): void {
    this.#emit("debug", first, second);
  }

  info(first: string | LogData, second?: LogData | string): void {
    this.#emit("info", first, second);
  }

  warn(first: string | LogData, second?: LogData | string): void {
    this.#emit("warn", first, second);
  }

  error(first: string | LogData, second?: LogData | string): void {
    this.#emit("error", first, second);
  }

  child(prefixOrBindings: string | Record<string, unknown>): BeauvoirLogger {
    const state = this.#state;
    if (typeof prefixOrBindings === "string") {
      let prefix = state.prefix;
      if (prefixOrBindings !== "") {
        const added = state.redactor.redact(prefixOrBindings);
        prefix = prefix === undefined ? added : `${prefix}:${added}`;
      }
      return new RedactingLogger({ ...state, prefix });
    }
    if (
      typeof prefixOrBindings !== "object" ||
      prefixOrBindings === null ||
      Array.isArray(prefixOrBindings)
    ) {
      throw new TypeError(
        `child() takes a prefix string or a bindings object, got ${String(prefixOrBindings)}`,
      );
    }
    const added = asFields(state.redactor.redactAny(prefixOrBindings));
    return new RedactingLogger({ ...state, bindings: { ...state.bindings, ...added } });
  }

  #emit(level: LogLevel, first: unknown, second: unknown): void {
    if (RANK[level] < this.#rank) return;
    // pino's order: the data first, then the message (an error's own by default).
    const dataFirst = typeof first === "object" && first !== null;
    const message = dataFirst
      ? typeof second === "string"
        ? second
        : isErrorLike(first)
          ? first.message
          : ""
      : first;
    const data = dataFirst ? first : second;
    const state = this.#state;
    let record: LogRecord;
    try {
      const { redactor } = state;
      const msg =
        typeof message === "string"
          ? redactor.redact(message)
          : describe(redactor.redactAny(message));
      const fields =
        data === undefined || data === null ? {} : asFields(redactor.redactAny(wrap(data)));
      record = {
        level,
        time: state.clock.now(),
        msg,
        ...(state.prefix === undefined ? {} : { prefix: state.prefix }),
        data: state.bindings === undefined ? fields : { ...state.bindings, ...fields },
      };
    } catch {
      // Only a broken clock can get here; a logger must not throw into its caller.
      return;
    }
    try {
      state.sink(record);
    } catch {
      // A failing sink (a closed stream) must not break the program that logs.
    }
  }
}

/** Data that is not a record still gets logged: an Error under `err` (as pino), anything else under `data`. */
function wrap(data: unknown): unknown {
  if (isErrorLike(data)) return { err: data };
  if (typeof data !== "object" || Array.isArray(data)) return { data };
  return data;
}

function asFields(redacted: unknown): Record<string, unknown> {
  return typeof redacted === "object" && redacted !== null && !Array.isArray(redacted)
    ? (redacted as Record<string, unknown>)
    : { data: redacted };
}

/** Text for a message that was not a string; `redactAny` output is JSON-safe, so this cannot throw. */
function describe(redacted: unknown): string {
  return typeof redacted === "string" ? redacted : (JSON.stringify(redacted) ?? String(redacted));
}

/**
 * Tells whether `value` is a logger made by {@link createLogger} (by this
 * or another copy of the package): one that redacts by itself.
 */
export function isBeauvoirLogger(value: unknown): value is BeauvoirLogger {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[BEAUVOIR_LOGGER] === true
  );
}

function levelFromEnvironment(): { level: LogThreshold; invalid?: string } {
  const raw =
    typeof process === "undefined" ? undefined : process.env[LOG_LEVEL_ENVIRONMENT_VARIABLE];
  if (raw === undefined || raw.trim() === "") return { level: LOGGER_DEFAULTS.level };
  const level = raw.trim().toLowerCase();
  return isThreshold(level) ? { level } : { level: LOGGER_DEFAULTS.level, invalid: raw };
}

/**
 * Creates a logger that redacts the message, the data (deeply, including
 * credential-named keys) and any Error in the data through `redactor` before
 * the sink sees anything. It never throws: not on odd data, not when the sink
 * fails.
 *
 * @param redactor - decides what a secret is.
 * @param options - level, prefix, sink and clock.
 * @returns the logger.
 * @throws TypeError when `redactor`, `sink`, `prefix` or `clock` has the wrong shape.
 * @throws RangeError when `level` is not a level.
 * @example
 * ```ts
 * const logger = createLogger(new SecretRedactor(), { prefix: "github" });
 * logger.info("calling API", { headers: { authorization: "token ghp_…" } });
 * // 2025-01-01T00:00:00.000Z INFO [github] calling API {"headers":{"authorization":"[REDACTED:authorization]"}}
 * ```
 */
export function createLogger(
  redactor: SecretRedactor,
  options: LoggerOptions = {},
): BeauvoirLogger {
  if (
    typeof redactor?.redact !== "function" ||
    typeof redactor.redactAny !== "function" ||
    typeof redactor.redactError !== "function"
  ) {
    throw new TypeError("createLogger needs a SecretRedactor as its first argument");
  }
  const { sink = consoleSink(), clock = systemClock, prefix } = options;
  if (typeof sink !== "function") throw new TypeError("sink must be a function (record) => void");
  if (typeof clock?.now !== "function") throw new TypeError("clock must have a now() method");
  if (prefix !== undefined && typeof prefix !== "string") {
    throw new TypeError(`prefix must be a string, got ${typeof prefix}`);
  }
  let level = options.level;
  let invalidEnvironmentLevel: string | undefined;
  if (level === undefined) {
    ({ level, invalid: invalidEnvironmentLevel } = levelFromEnvironment());
  } else if (!isThreshold(level)) {
    throw new RangeError(
      `level must be one of ${Object.keys(RANK).join(", ")}, got ${String(level)}`,
    );
  }
  const logger = new RedactingLogger({
    redactor,
    level,
    sink,
    clock,
    prefix: prefix === undefined || prefix === "" ? undefined : redactor.redact(prefix),
    bindings: undefined,
  });
  if (invalidEnvironmentLevel !== undefined) {
    logger.warn(`Ignoring ${LOG_LEVEL_ENVIRONMENT_VARIABLE}: not a level`, {
      value: invalidEnvironmentLevel,
      levels: Object.keys(RANK),
      using: level,
    });
  }
  return logger;
}
