// pino on the ecosystem's terms: a real pino logger behind fromPino(), pino's
// argument order on our own logger, and every line redacted before pino sees it.
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, expectTypeOf, it } from "vitest";
import { fake } from "./__fixtures__/fake-secrets.js";
import { fromPino } from "./from-pino.js";
import { formatConsoleLine, type LogRecord, looksLikePino } from "./log-sinks.js";
import { type BeauvoirLogger, createLogger, isBeauvoirLogger, type LogData } from "./logger.js";
import { SecretRedactor } from "./secret-redactor.js";

function pinoLines(level = "debug") {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino({ level }, stream) };
}

describe("fromPino", () => {
  it("hands pino every record redacted, data first, an Error under err", () => {
    const { lines, logger: target } = pinoLines();
    const logger = fromPino(target, { redactor: new SecretRedactor(), prefix: "bot" });
    const token = fake.githubClassic;
    logger.info(`calling with ${token}`, { headers: { authorization: `token ${token}` }, n: 1 });
    logger.error(new Error(`push to https://x:${token}@github.com failed`), "push failed");
    logger.warn({ attempt: 2, url: `https://api.github.com/?access_token=${token}` }, "retrying");
    logger.child({ delivery: "d-1" }).debug("child record");
    expect(JSON.stringify(lines)).not.toContain(token);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: "calling with [REDACTED:github-pat]",
      prefix: "bot",
      n: 1,
      headers: { authorization: "[REDACTED:authorization]" },
    });
    expect(lines[1]).toMatchObject({ level: 50, msg: "push failed", err: { name: "Error" } });
    const err = lines[1]?.err as { message: string; stack: string };
    expect(err.message).toMatch(/REDACTED/);
    expect(err.stack).toContain("push to https://x:");
    expect(lines[2]).toMatchObject({ level: 40, msg: "retrying", attempt: 2 });
    expect(lines[3]).toMatchObject({ level: 20, msg: "child record", delivery: "d-1" });
  });

  it("follows pino's level and recognises pino", () => {
    const { lines, logger: target } = pinoLines("warn");
    const logger = fromPino(target);
    expect(logger.level).toBe("warn");
    logger.info("dropped");
    logger.error("kept");
    expect(lines.map((line) => line.msg)).toEqual(["kept"]);
    expect(looksLikePino(target)).toBe(true);
    expect(looksLikePino(console)).toBe(false);
    expect(looksLikePino(null)).toBe(false);
    expect(isBeauvoirLogger(logger)).toBe(true);
    expect(isBeauvoirLogger(target)).toBe(false);
    expect(fromPino({ ...pinoLines().logger, level: "fatal" } as never).level).toBe("error");
    expect(fromPino({ debug() {}, info() {}, warn() {}, error() {}, level: "weird" }).level).toBe(
      "debug",
    );
  });
});

describe("pino's argument order on our own logger", () => {
  const redactor = new SecretRedactor();
  const capture = () => {
    const records: LogRecord[] = [];
    return { records, logger: createLogger(redactor, { sink: (record) => records.push(record) }) };
  };

  it("accepts (err, msg), (data, msg), (err) and (msg, err); an Error lands under err", () => {
    const { records, logger } = capture();
    const error = new Error("password=hunter2");
    logger.error(error, "save failed");
    logger.warn({ status: 502 }, "retrying");
    logger.error(error);
    logger.error("save failed", error);
    expect(records.map((record) => record.msg)).toEqual([
      "save failed",
      "retrying",
      "password=[REDACTED:password]",
      "save failed",
    ]);
    expect(records[0]?.data).toMatchObject({ err: { message: "password=[REDACTED:password]" } });
    expect(records[1]?.data).toEqual({ status: 502 });
    expect(records[3]?.data).toMatchObject({ err: { name: "Error" } });
    expect(formatConsoleLine(records[0]!)).toContain("\n  Error: password=[REDACTED:password]");
  });

  it("typechecks an Error as data, in either order", () => {
    const logger: BeauvoirLogger = capture().logger;
    expectTypeOf(logger.error).toBeCallableWith("failed", new Error("x"));
    expectTypeOf(logger.error).toBeCallableWith(new Error("x"), "failed");
    expectTypeOf(logger.info).toBeCallableWith({ a: 1 });
    expectTypeOf<Error>().toMatchTypeOf<LogData>();
  });
});
