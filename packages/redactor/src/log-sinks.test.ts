import { describe, expect, it, vi } from "vitest";
import {
  type ConsoleLike,
  consoleSink,
  formatConsoleLine,
  formatJsonLine,
  jsonLinesSink,
  type LogRecord,
  loggerSink,
} from "./log-sinks.js";

const TIME = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
const record = (overrides: Partial<LogRecord> = {}): LogRecord => ({
  level: "info",
  time: TIME,
  msg: "hello",
  data: {},
  ...overrides,
});

describe("formatJsonLine / jsonLinesSink", () => {
  it("writes one JSON object per line: level, time, msg, prefix, then the data", () => {
    const line = formatJsonLine(
      record({ prefix: "audit", data: { seq: 3, nested: { ok: true } } }),
    );
    expect(line.endsWith("\n")).toBe(true);
    expect(line.indexOf("\n")).toBe(line.length - 1);
    expect(Object.keys(JSON.parse(line))).toEqual([
      "level",
      "time",
      "msg",
      "prefix",
      "seq",
      "nested",
    ]);
    expect(JSON.parse(line)).toEqual({
      level: "info",
      time: "2025-01-02T03:04:05.678Z",
      msg: "hello",
      prefix: "audit",
      seq: 3,
      nested: { ok: true },
    });
  });

  it("keeps newlines inside values on the same line", () => {
    const line = formatJsonLine(record({ msg: "two\nlines", data: { stack: "a\nb" } }));
    expect(line.split("\n")).toHaveLength(2);
  });

  it("escapes the control characters JSON leaves raw (C1, DEL, line separators, bidi overrides)", () => {
    const text = "a\u2028b\u2029c\u0085d\u009b31m\u202ee\u2066f\u007f";
    const line = formatJsonLine(record({ msg: text, prefix: "p\u2028", data: { [text]: text } }));
    expect(line.slice(0, -1)).not.toMatch(
      /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/,
    );
    expect(JSON.parse(line)).toEqual({
      level: "info",
      time: "2025-01-02T03:04:05.678Z",
      msg: text,
      prefix: "p\u2028",
      [text]: text,
    });
  });

  it("does not let data forge level, time, msg or prefix", () => {
    const parsed = JSON.parse(
      formatJsonLine(
        record({
          prefix: "real",
          data: { level: "error", time: 0, msg: "forged", prefix: "fake", other: 1 },
        }),
      ),
    );
    expect(parsed).toEqual({
      level: "info",
      time: "2025-01-02T03:04:05.678Z",
      msg: "hello",
      prefix: "real",
      _level: "error",
      _time: 0,
      _msg: "forged",
      _prefix: "fake",
      other: 1,
    });
  });

  it("writes a __proto__ data key as a field", () => {
    const data = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
    expect(formatJsonLine(record({ data }))).toContain('"__proto__":{"x":1}');
  });

  it("omits prefix when there is none and copes with a bad time or unserialisable data", () => {
    expect(JSON.parse(formatJsonLine(record()))).not.toHaveProperty("prefix");
    expect(JSON.parse(formatJsonLine(record({ time: Number.NaN }))).time).toBe("NaN");
    const parsed = JSON.parse(formatJsonLine(record({ data: { big: 1n } })));
    expect(parsed).toMatchObject({ msg: "hello", dataError: "data is not serializable" });
  });

  it("writes each record to the stream", () => {
    const write = vi.fn();
    const sink = jsonLinesSink({ write });
    sink(record());
    sink(record({ level: "error" }));
    expect(write).toHaveBeenCalledTimes(2);
    expect(JSON.parse(write.mock.calls[1]?.[0] as string).level).toBe("error");
  });

  it("rejects a stream without write()", () => {
    expect(() => jsonLinesSink({} as never)).toThrow(
      /jsonLinesSink\(stream\) must have a write\(\) method/,
    );
    expect(() => jsonLinesSink(null as never)).toThrow(TypeError);
  });
});

describe("formatConsoleLine / consoleSink", () => {
  it("formats time, level, prefix, message and data on one line", () => {
    expect(formatConsoleLine(record({ prefix: "http", data: { status: 200 } }))).toBe(
      '2025-01-02T03:04:05.678Z INFO [http] hello {"status":200}',
    );
    expect(formatConsoleLine(record())).toBe("2025-01-02T03:04:05.678Z INFO hello");
  });

  it("prints the stack of data.error on the lines after", () => {
    const line = formatConsoleLine(
      record({
        level: "error",
        data: {
          error: { name: "Error", message: "boom", stack: "Error: boom\n    at f (x.js:1:1)" },
        },
      }),
    );
    expect(line).toBe(
      '2025-01-02T03:04:05.678Z ERROR hello {"error":{"name":"Error","message":"boom"}}\n  Error: boom\n    at f (x.js:1:1)',
    );
  });

  it("escapes control characters in the message, the prefix and the data, so nothing forges a line", () => {
    const forged = "2025-01-02T03:04:05.678Z ERROR [agent] forged";
    const line = formatConsoleLine(
      record({
        prefix: "a\rb",
        msg: `ok\n${forged}\u001b[2J\u2028\u202e`,
        data: { note: `x\u2028${forged}\u0085\u009b31m\u202e\u007f`, n: 1 },
      }),
    );
    expect(line.split(/[\n\r\u2028\u2029\u0085]/)).toHaveLength(1);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect(line).toContain("[a\\rb]");
    expect(line).toContain(
      "ok\\n2025-01-02T03:04:05.678Z ERROR [agent] forged\\x1b[2J\\u2028\\u202e",
    );
    const json = line.slice(line.indexOf("{"));
    expect(JSON.parse(json)).toEqual({ note: `x\u2028${forged}\u0085\u009b31m\u202e\u007f`, n: 1 });
  });

  it("keeps every line of a stack indented, so a forged stack cannot start a record", () => {
    const forged = "2025-01-02T03:04:05.678Z INFO [agent] forged";
    const line = formatConsoleLine(
      record({
        level: "error",
        data: {
          error: {
            name: forged,
            message: `boom\n${forged}\r${forged}`,
            stack: `${forged}: boom\n${forged}\r${forged}\u001b[1A\n    at f (x.js:1:1)`,
          },
        },
      }),
    );
    const [first, ...rest] = line.split("\n");
    expect(first).toMatch(/^2025-01-02T03:04:05\.678Z ERROR hello /);
    expect(rest.length).toBeGreaterThan(0);
    for (const continuation of rest) expect(continuation).toMatch(/^[ \t]/);
    expect(line).not.toMatch(/[\r\u001b]/);
  });

  it("says so when data cannot be serialised", () => {
    expect(formatConsoleLine(record({ data: { big: 1n } }))).toContain(
      "[data is not serializable]",
    );
  });

  it("calls the console method of the record's level", () => {
    const target: ConsoleLike = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const sink = consoleSink(target);
    for (const level of ["debug", "info", "warn", "error"] as const) sink(record({ level }));
    for (const level of ["debug", "info", "warn", "error"] as const) {
      expect(target[level]).toHaveBeenCalledTimes(1);
      expect(String(vi.mocked(target[level]).mock.calls[0]?.[0])).toContain(level.toUpperCase());
    }
  });

  it("rejects a console without the four methods", () => {
    expect(() => consoleSink({ info: () => {} } as never)).toThrow(
      /consoleSink\(target\) must have a debug\(\) method/,
    );
  });
});

describe("loggerSink", () => {
  const target = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

  it("calls the target data first by default (pino, bunyan)", () => {
    const logger = target();
    loggerSink(logger)(record({ level: "warn", prefix: "x", data: { a: 1 } }));
    expect(logger.warn).toHaveBeenCalledWith({ prefix: "x", a: 1 }, "hello");
  });

  it("calls the target message first when asked (winston, console)", () => {
    const logger = target();
    loggerSink(logger, { argumentOrder: "message-first" })(record({ data: { a: 1 } }));
    expect(logger.info).toHaveBeenCalledWith("hello", { a: 1 });
  });

  it("keeps the method's this, as pino needs", () => {
    const seen: unknown[] = [];
    const logger = {
      debug() {},
      warn() {},
      error() {},
      info(this: unknown) {
        seen.push(this);
      },
    };
    loggerSink(logger)(record());
    expect(seen[0]).toBe(logger);
  });

  it("rejects a target without the four methods or an unknown order", () => {
    expect(() => loggerSink({ info() {} } as never)).toThrow(
      /loggerSink\(target\) must have a debug\(\) method/,
    );
    expect(() => loggerSink(target(), { argumentOrder: "reverse" as never })).toThrow(
      /argumentOrder/,
    );
  });
});
