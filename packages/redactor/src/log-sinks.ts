import { escapeControlCharacters } from "@beauvoir/core";

/** A level a record can have. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * One log event, already redacted: nothing in it may carry a secret, so a
 * sink can write it anywhere as it is.
 */
export interface LogRecord {
  /** Severity. */
  readonly level: LogLevel;
  /** When it happened, in milliseconds since the epoch (from the logger's clock). */
  readonly time: number;
  /** The redacted message. */
  readonly msg: string;
  /** The subsystem, e.g. `"beauvoir:audit-trail"`; absent when the logger has none. */
  readonly prefix?: string;
  /** Child-logger bindings and the call's data, redacted and JSON-safe. */
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Where records go. Called synchronously for each record that passes the
 * level filter; an exception it throws is swallowed by the logger.
 */
export type LogSink = (record: LogRecord) => void;

/** The part of `console` the console sink uses. */
export type ConsoleLike = Record<LogLevel, (...args: unknown[]) => void>;

/** Anything with the four level methods: pino, bunyan, winston, console. */
export type LevelMethods = Record<LogLevel, (...args: never[]) => unknown>;

/** Something to write text to: a `fs.WriteStream`, `process.stdout`, a socket. */
export interface WritableLike {
  write(chunk: string): unknown;
}

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Fields of a JSON line that data keys may not overwrite. */
const RESERVED = new Set(["level", "time", "msg", "prefix"]);

/**
 * What `JSON.stringify` leaves raw although a terminal or a line reader acts
 * on it: DEL, C1 controls, the Unicode line and paragraph separators and the
 * bidirectional overrides. (It escapes C0 controls itself.)
 */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** JSON text with {@link RAW_IN_JSON} written as `\uXXXX` escapes: the same JSON value, safe to print. */
function safeJson(json: string): string {
  return json.replace(
    RAW_IN_JSON,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Marks every line after the first as a continuation: it cannot begin like a record. */
const CONTINUATION = "  ";

function isoTime(time: number): string {
  return Number.isFinite(time) ? new Date(time).toISOString() : String(time);
}

function assertMethods(target: unknown, methods: readonly string[], option: string): void {
  for (const method of methods) {
    if (typeof (target as Record<string, unknown> | null)?.[method] !== "function") {
      throw new TypeError(`${option} must have a ${method}() method`);
    }
  }
}

/**
 * Formats one record as a line of JSON: `level`, `time` (ISO-8601), `msg`,
 * `prefix`, then the data fields. A data key named like one of the first four
 * is written with a leading underscore (`_msg`) so it cannot forge them.
 * Characters JSON leaves raw but terminals act on (C1 controls, U+2028,
 * bidirectional overrides) are written as `\uXXXX`.
 *
 * @param record - a record from the logger.
 * @returns the line, ending with `\n`.
 * @example
 * ```ts
 * formatJsonLine({ level: "info", time: 0, msg: "hi", data: { n: 1 } });
 * // '{"level":"info","time":"1970-01-01T00:00:00.000Z","msg":"hi","n":1}\n'
 * ```
 */
export function formatJsonLine(record: LogRecord): string {
  const line: Record<string, unknown> = Object.create(null);
  line.level = record.level;
  line.time = isoTime(record.time);
  line.msg = record.msg;
  if (record.prefix !== undefined) line.prefix = record.prefix;
  for (const key of Object.keys(record.data)) {
    line[RESERVED.has(key) ? `_${key}` : key] = record.data[key];
  }
  try {
    return `${safeJson(JSON.stringify(line))}\n`;
  } catch {
    // Records from the logger are JSON-safe; a hand-made record may not be.
    const { level, time, msg, prefix } = line;
    return `${safeJson(JSON.stringify({ level, time, msg, prefix, dataError: "data is not serializable" }))}\n`;
  }
}

/**
 * A sink that writes one JSON object per line to a stream, for production
 * log collectors.
 *
 * @param stream - where lines go; the caller owns it (and closes it).
 * @returns the sink.
 * @throws TypeError when `stream` has no `write` method.
 * @example
 * ```ts
 * const logger = createLogger(new SecretRedactor(), {
 *   sink: jsonLinesSink(createWriteStream("agent.log", { flags: "a" })),
 * });
 * ```
 */
export function jsonLinesSink(stream: WritableLike): LogSink {
  assertMethods(stream, ["write"], "jsonLinesSink(stream)");
  return (record) => {
    stream.write(formatJsonLine(record));
  };
}

/**
 * Formats one record for people: `time LEVEL [prefix] message {data}`, with
 * the stack of `data.error` on the lines after, each indented. Control
 * characters in the prefix, the message and the stack become visible escapes
 * (`\n`, `\x1b`), and those JSON leaves raw become `\uXXXX` in the data, so
 * no record can forge another line or send a terminal sequence.
 *
 * @param record - a record from the logger.
 * @returns the text, without a final newline.
 * @example
 * ```ts
 * formatConsoleLine({ level: "warn", time: 0, msg: "slow", prefix: "http", data: { ms: 900 } });
 * // '1970-01-01T00:00:00.000Z WARN [http] slow {"ms":900}'
 * ```
 */
export function formatConsoleLine(record: LogRecord): string {
  let line = `${isoTime(record.time)} ${record.level.toUpperCase()}`;
  if (record.prefix !== undefined) line += ` [${escapeControlCharacters(record.prefix)}]`;
  line += ` ${escapeControlCharacters(String(record.msg))}`;
  const data: Record<string, unknown> = { ...record.data };
  let stack: string | undefined;
  const error = data.error;
  if (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { stack?: unknown }).stack === "string"
  ) {
    const { stack: errorStack, ...rest } = error as Record<string, unknown>;
    stack = errorStack as string;
    data.error = rest;
  }
  if (Object.keys(data).length > 0) {
    try {
      line += ` ${safeJson(JSON.stringify(data))}`;
    } catch {
      line += " [data is not serializable]";
    }
  }
  return stack === undefined ? line : `${line}\n${stackLines(stack)}`;
}

/**
 * A stack on the lines after a record, each line escaped and each starting
 * with a blank, so a message inside it cannot pass for a record of its own.
 */
function stackLines(stack: string): string {
  return stack
    .split(/\r\n|\n/)
    .map((line) => {
      const escaped = escapeControlCharacters(line);
      return escaped.startsWith(" ") ? escaped : `${CONTINUATION}${escaped}`;
    })
    .join("\n");
}

/**
 * The default sink: one readable line per record through `console.debug`,
 * `console.info`, `console.warn` or `console.error`.
 *
 * @param target - the console to write to.
 * @returns the sink.
 * @throws TypeError when `target` lacks one of the four methods.
 * @example
 * ```ts
 * const logger = createLogger(new SecretRedactor(), { sink: consoleSink() });
 * ```
 */
export function consoleSink(target: ConsoleLike = console): LogSink {
  assertMethods(target, LEVELS, "consoleSink(target)");
  return (record) => {
    target[record.level](formatConsoleLine(record));
  };
}

/** Options of {@link loggerSink}. */
export interface LoggerSinkOptions {
  /**
   * `"data-first"` calls `target.info({ prefix, ...data }, msg)`, as pino and
   * bunyan expect; `"message-first"` calls `target.info(msg, { prefix, ...data })`,
   * as winston and console do.
   * @default "data-first"
   */
  argumentOrder?: "data-first" | "message-first";
}

/**
 * A sink that hands records to an existing logger, such as pino, after
 * redaction. The target adds its own time and formatting.
 *
 * @param target - any object with `debug`, `info`, `warn` and `error` methods.
 * @param options - argument order of the target's methods.
 * @returns the sink.
 * @throws TypeError when `target` lacks a method or the order is unknown.
 * @example
 * ```ts
 * import pino from "pino";
 * const logger = createLogger(new SecretRedactor(), { sink: loggerSink(pino()) });
 * ```
 */
export function loggerSink(target: LevelMethods, options: LoggerSinkOptions = {}): LogSink {
  assertMethods(target, LEVELS, "loggerSink(target)");
  const order = options.argumentOrder ?? "data-first";
  if (order !== "data-first" && order !== "message-first") {
    throw new TypeError(
      `argumentOrder must be "data-first" or "message-first", got ${String(order)}`,
    );
  }
  const methods = target as unknown as ConsoleLike;
  return (record) => {
    const fields: Record<string, unknown> = { ...record.data };
    if (record.prefix !== undefined) {
      if ("prefix" in fields) fields._prefix = fields.prefix;
      fields.prefix = record.prefix;
    }
    if (order === "data-first") methods[record.level](fields, record.msg);
    else methods[record.level](record.msg, fields);
  };
}
