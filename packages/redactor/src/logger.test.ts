import { Writable } from "node:stream";
import { ManualClock } from "@beauvoir/core";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { everyFakeSecret, fake } from "./__fixtures__/fake-secrets.js";
import { jsonLinesSink, type LogRecord, loggerSink } from "./log-sinks.js";
import { createLogger, LOGGER_DEFAULTS } from "./logger.js";
import { SecretRedactor } from "./secret-redactor.js";

const redactor = new SecretRedactor();

function capture() {
  const records: LogRecord[] = [];
  return { records, sink: (record: LogRecord) => records.push(record) };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("createLogger: redaction before output", () => {
  it("redacts the message, the data and errors before the sink sees them", () => {
    const { records, sink } = capture();
    const logger = createLogger(redactor, { sink });
    const error = new Error(`push failed for https://x:${fake.githubApp}@github.com`, {
      cause: new Error(`token=${fake.githubClassic}`),
    });
    logger.error(`cannot push with ${fake.githubClassic}`, {
      error,
      request: { headers: { authorization: `Bearer ${fake.jwt}` }, url: "https://h/?api_key=k" },
    });
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record?.msg).toBe("cannot push with [REDACTED:github-pat]");
    expect(record?.data).toMatchObject({
      error: {
        name: "Error",
        message: "push failed for https://x:[REDACTED:github-app]@github.com",
        cause: { message: "token=[REDACTED:github-pat]" },
      },
      request: {
        headers: { authorization: "[REDACTED:authorization]" },
        url: "https://h/?api_key=[REDACTED:api-key]",
      },
    });
    expect((record!.data.error as { stack: string }).stack).toContain("logger.test.ts");
  });

  it("never lets a known secret reach any sink, through any level or field", () => {
    const lines: string[] = [];
    const stream = { write: (line: string) => lines.push(line) };
    const logger = createLogger(redactor, {
      level: "debug",
      sink: jsonLinesSink(stream),
      prefix: "agent",
    });
    for (const secret of everyFakeSecret) {
      const child = logger.child({ session: secret });
      child.debug(secret, { note: secret, [secret]: secret });
      child.info(`value=${secret}`, { list: [secret, { deep: secret }] });
      child.warn("x", { error: new Error(secret, { cause: secret }) });
      child.error("x", { map: new Map([[secret, secret]]), set: new Set([secret]) });
    }
    const output = lines.join("");
    expect(lines).toHaveLength(everyFakeSecret.length * 4);
    for (const secret of everyFakeSecret) expect(output).not.toContain(secret);
  });

  it("redacts before serialising, so JSON escaping cannot split a secret past the patterns", () => {
    const lines: string[] = [];
    const logger = createLogger(redactor, {
      sink: jsonLinesSink({ write: (line: string) => lines.push(line) }),
    });
    const secret = fake.githubClassic;
    logger.info('body {"token":"x"}', {
      quoted: `he said "use ${secret}"\nthen left`,
      escapedJson: JSON.stringify({ nested: JSON.stringify({ auth: `Bearer ${secret}` }) }),
      multiline: `line one\nAuthorization: token ${secret}\r\nline three`,
      tabbed: `\t${secret}\t`,
    });
    const output = lines.join("");
    const escapedOnce = JSON.stringify(secret).slice(1, -1);
    const escapedTwice = JSON.stringify(JSON.stringify(secret)).slice(1, -1);
    for (const form of [secret, escapedOnce, escapedTwice, secret.slice(4)])
      expect(output).not.toContain(form);
    expect(JSON.parse(output).msg).toBe('body {"token":"[REDACTED:token]"}');
  });

  it("redacts prefixes, including dynamic ones given to child()", () => {
    const { records, sink } = capture();
    const logger = createLogger(redactor, { sink, prefix: `repo ${fake.githubApp}` });
    logger.child(`https://u:pw@host`).info("x");
    expect(records[0]?.prefix).toBe(
      "repo [REDACTED:github-app]:https://u:[REDACTED:url-password]@host",
    );
  });

  it("puts an Error passed as the data itself under err (as pino does), and non-objects under data", () => {
    const { records, sink } = capture();
    const logger = createLogger(redactor, { sink });
    logger.error("failed", new Error("token=abc"));
    logger.info("list", ["token=abc"] as never);
    logger.info("text", "password=p" as never);
    logger.info("nothing", null as never);
    expect(records[0]?.data).toMatchObject({ err: { message: "token=[REDACTED:token]" } });
    expect(records[1]?.data).toEqual({ data: ["token=[REDACTED:token]"] });
    expect(records[2]?.data).toEqual({ data: "password=[REDACTED:password]" });
    expect(records[3]?.data).toEqual({});
  });

  it("takes an object first as pino's data, and turns other non-strings into text (for untyped callers)", () => {
    const { records, sink } = capture();
    createLogger(redactor, { sink }).info({ token: "abc" });
    createLogger(redactor, { sink }).info(undefined as never);
    createLogger(redactor, { sink }).info(42 as never, { n: 1 });
    expect(records[0]).toMatchObject({ msg: "", data: { token: "[REDACTED:token]" } });
    expect(records[1]?.msg).toBe("undefined");
    expect(records[2]).toMatchObject({ msg: "42", data: { n: 1 } });
  });

  it("stamps records with the injected clock", () => {
    const { records, sink } = capture();
    const clock = new ManualClock(Date.UTC(2025, 0, 1));
    const logger = createLogger(redactor, { sink, clock });
    logger.info("one");
    clock.advance(1500);
    logger.info("two");
    expect(records.map((record) => record.time)).toEqual([
      Date.UTC(2025, 0, 1),
      Date.UTC(2025, 0, 1) + 1500,
    ]);
  });

  it("never throws into its caller: not when the sink throws, not when the clock does", () => {
    const logger = createLogger(redactor, {
      sink: () => {
        throw new Error("disk full");
      },
    });
    expect(() => logger.error("x", { error: new Error("y") })).not.toThrow();
    const broken = createLogger(redactor, {
      sink: () => {},
      clock: {
        now: () => {
          throw new Error("no time");
        },
        setTimeout: () => ({}),
        clearTimeout: () => {},
      },
    });
    expect(() => broken.info("x")).not.toThrow();
  });
});

describe("createLogger: levels", () => {
  it("defaults to info and filters debug", () => {
    const { records, sink } = capture();
    const logger = createLogger(redactor, { sink });
    expect(logger.level).toBe(LOGGER_DEFAULTS.level);
    logger.debug("hidden");
    logger.info("shown");
    logger.warn("shown");
    logger.error("shown");
    expect(records.map((record) => record.level)).toEqual(["info", "warn", "error"]);
  });

  it.each([
    ["debug", ["debug", "info", "warn", "error"]],
    ["info", ["info", "warn", "error"]],
    ["warn", ["warn", "error"]],
    ["error", ["error"]],
    ["silent", []],
  ] as const)("level %s emits %j", (level, expected) => {
    const { records, sink } = capture();
    const logger = createLogger(redactor, { sink, level });
    for (const method of ["debug", "info", "warn", "error"] as const) logger[method](method);
    expect(records.map((record) => record.level)).toEqual(expected);
    for (const method of ["debug", "info", "warn", "error"] as const) {
      expect(logger.isLevelEnabled(method)).toBe((expected as readonly string[]).includes(method));
    }
  });

  it("does no redaction work for filtered records", () => {
    const spy = vi.spyOn(redactor, "redactAny");
    createLogger(redactor, { sink: () => {}, level: "error" }).debug("x", { big: "y" });
    expect(spy).not.toHaveBeenCalled();
  });

  it("takes the level from BEAUVOIR_LOG_LEVEL when none is given", () => {
    vi.stubEnv("BEAUVOIR_LOG_LEVEL", " DEBUG ");
    expect(createLogger(redactor, { sink: () => {} }).level).toBe("debug");
    vi.stubEnv("BEAUVOIR_LOG_LEVEL", "silent");
    expect(createLogger(redactor, { sink: () => {} }).level).toBe("silent");
    vi.stubEnv("BEAUVOIR_LOG_LEVEL", "");
    expect(createLogger(redactor, { sink: () => {} }).level).toBe("info");
  });

  it("lets an explicit level win over BEAUVOIR_LOG_LEVEL", () => {
    vi.stubEnv("BEAUVOIR_LOG_LEVEL", "debug");
    expect(createLogger(redactor, { sink: () => {}, level: "warn" }).level).toBe("warn");
  });

  it("warns once and uses info when BEAUVOIR_LOG_LEVEL is not a level", () => {
    vi.stubEnv("BEAUVOIR_LOG_LEVEL", "verbose");
    const { records, sink } = capture();
    const logger = createLogger(redactor, { sink });
    expect(logger.level).toBe("info");
    expect(records).toHaveLength(1);
    expect(records[0]?.level).toBe("warn");
    expect(records[0]?.msg).toContain("BEAUVOIR_LOG_LEVEL");
    expect(records[0]?.data).toMatchObject({ value: "verbose", using: "info" });
  });
});

describe("createLogger: prefix and child loggers", () => {
  it("adds the prefix to records and extends it in children", () => {
    const { records, sink } = capture();
    const logger = createLogger(redactor, { sink, prefix: "beauvoir" });
    logger.info("root");
    const audit = logger.child("audit-trail");
    audit.info("child");
    audit.child("recovery").info("grandchild");
    audit.child("").info("same prefix");
    createLogger(redactor, { sink }).child("solo").info("no parent prefix");
    createLogger(redactor, { sink, prefix: "" }).info("empty prefix");
    expect(records.map((record) => record.prefix)).toEqual([
      "beauvoir",
      "beauvoir:audit-trail",
      "beauvoir:audit-trail:recovery",
      "beauvoir:audit-trail",
      "solo",
      undefined,
    ]);
    expect("prefix" in records[5]!).toBe(false);
  });

  it("adds redacted bindings to every record of a child, under the call's own data", () => {
    const { records, sink } = capture();
    const logger = createLogger(redactor, { sink, level: "debug" });
    const child = logger.child({ workflow: "triage", token: "abc", url: "https://u:p@h" });
    child.debug("a");
    child.child({ step: 2 }).info("b", { workflow: "override" });
    expect(records[0]?.data).toEqual({
      workflow: "triage",
      token: "[REDACTED:token]",
      url: "https://u:[REDACTED:url-password]@h",
    });
    expect(records[1]?.data).toEqual({
      workflow: "override",
      token: "[REDACTED:token]",
      url: "https://u:[REDACTED:url-password]@h",
      step: 2,
    });
  });

  it("shares level and sink with its children", () => {
    const { records, sink } = capture();
    const child = createLogger(redactor, { sink, level: "warn" }).child("x");
    expect(child.level).toBe("warn");
    child.info("filtered");
    child.warn("kept");
    expect(records).toHaveLength(1);
  });

  it("rejects bindings that are not a string or an object", () => {
    const logger = createLogger(redactor, { sink: () => {} });
    expect(() => logger.child(42 as never)).toThrow(TypeError);
    expect(() => logger.child(null as never)).toThrow(TypeError);
    expect(() => logger.child([] as never)).toThrow(/prefix string or a bindings object/);
  });
});

describe("createLogger: options", () => {
  it.each([
    [undefined, {}, TypeError, /needs a SecretRedactor/],
    [{ redact: () => "" }, {}, TypeError, /needs a SecretRedactor/],
    [
      redactor,
      { level: "verbose" },
      RangeError,
      /level must be one of debug, info, warn, error, silent/,
    ],
    [redactor, { sink: "stdout" }, TypeError, /sink must be a function/],
    [redactor, { clock: {} }, TypeError, /clock must have a now\(\) method/],
    [redactor, { prefix: 7 }, TypeError, /prefix must be a string/],
  ])("rejects bad arguments (%#)", (redactorArgument, options, type, message) => {
    expect(() => createLogger(redactorArgument as never, options as never)).toThrow(type);
    expect(() => createLogger(redactorArgument as never, options as never)).toThrow(message);
  });

  it("writes to the console by default", () => {
    const info = vi.spyOn(console, "info").mockImplementation(() => {});
    createLogger(redactor, { prefix: "demo" }).info(`hello ${fake.npm}`);
    expect(info).toHaveBeenCalledTimes(1);
    const line = String(info.mock.calls[0]?.[0]);
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO \[demo\] hello \[REDACTED:npm-token\]$/);
  });
});

describe("a pino logger as the sink", () => {
  it("receives redacted records with prefix and data as fields", async () => {
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, callback) {
        chunks.push(String(chunk));
        callback();
      },
    });
    const target = pino({ level: "debug" }, destination);
    const logger = createLogger(redactor, {
      sink: loggerSink(target),
      prefix: "github",
      level: "debug",
    });
    logger.warn(`rate limited, token ${fake.githubClassic}`, {
      headers: { authorization: "token abc" },
      error: new Error("password=hunter2"),
    });
    logger.debug("detail", { prefix: "forged" });
    await new Promise((resolve) => setImmediate(resolve));
    const lines = chunks
      .join("")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: "rate limited, token [REDACTED:github-pat]",
      prefix: "github",
      headers: { authorization: "[REDACTED:authorization]" },
      error: { name: "Error", message: "password=[REDACTED:password]" },
    });
    expect(lines[1]).toMatchObject({ level: 20, prefix: "github", _prefix: "forged" });
    expect(chunks.join("")).not.toContain(fake.githubClassic);
    expect(chunks.join("")).not.toContain("hunter2");
  });
});
