import { describe, expect, it } from "vitest";
import { isTransientFailure, QueryTimeoutError } from "./transient-failure.js";

describe("isTransientFailure", () => {
  it.each([
    ["a lost connection", Object.assign(new Error("Connection terminated unexpectedly"), {})],
    ["a read timeout", new Error("Query read timeout")],
    ["a checkout timeout", new Error("timeout exceeded when trying to connect")],
    ["our own timeout", new QueryTimeoutError(5)],
    ["ECONNRESET", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })],
    ["ECONNREFUSED", Object.assign(new Error("connect"), { code: "ECONNREFUSED" })],
    [
      "admin_shutdown (pg_terminate_backend)",
      Object.assign(new Error("terminating"), { code: "57P01" }),
    ],
    ["cannot_connect_now (starting up)", Object.assign(new Error("starting"), { code: "57P03" })],
    ["a connection exception class", Object.assign(new Error("x"), { code: "08006" })],
    ["statement_timeout", Object.assign(new Error("canceling statement"), { code: "57014" })],
    ["lock_timeout", Object.assign(new Error("lock"), { code: "55P03" })],
    ["a deadlock", Object.assign(new Error("deadlock"), { code: "40P01" })],
    ["a wrapped cause", new Error("outer", { cause: new Error("Connection terminated") })],
  ])("resends after %s", (_name, error) => {
    expect(isTransientFailure(error)).toBe(true);
  });

  it.each([
    ["a unique violation", Object.assign(new Error("duplicate key"), { code: "23505" })],
    ["a syntax error", Object.assign(new Error("syntax"), { code: "42601" })],
    ["a missing table", Object.assign(new Error("relation"), { code: "42P01" })],
    ["a plain error", new Error("boom")],
    ["a string", "Connection terminated"],
    ["null", null],
  ])("does not resend after %s", (_name, error) => {
    expect(isTransientFailure(error)).toBe(false);
  });
});
