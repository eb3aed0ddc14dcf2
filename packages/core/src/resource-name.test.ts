import { describe, expect, it } from "vitest";
import { isErrnoError } from "./errno.js";
import { assertSafeName, InvalidNameError } from "./resource-name.js";

describe("assertSafeName", () => {
  it.each(["dedup-index", "workflow.runs", "a", "lock_1", "x".repeat(200)])(
    "accepts %s",
    (name) => {
      expect(assertSafeName(name)).toBe(name);
    },
  );

  it.each([
    ["", "empty"],
    [".", "."],
    ["..", ".."],
    ["../etc/passwd", "separators"],
    ["a/b", "separators"],
    ["a\\b", "separators"],
    ["a..b", "'..'"],
    ["bad\u0000name", "NUL"],
    ["tab\tname", "control"],
    ["x".repeat(201), "200"],
  ])("rejects %j with a reason mentioning %s", (name, reason) => {
    let error: unknown;
    try {
      assertSafeName(name);
    } catch (caught) {
      error = caught;
    }
    expect(InvalidNameError.isInstance(error)).toBe(true);
    expect((error as InvalidNameError).code).toBe("INVALID_NAME");
    expect((error as InvalidNameError).message).toContain(reason);
    expect((error as InvalidNameError).invalidName).toBe(name);
  });

  it("rejects non-strings", () => {
    expect(() => assertSafeName(42)).toThrow(InvalidNameError);
  });
});

describe("isErrnoError", () => {
  it("matches system errors by code", () => {
    const error = Object.assign(new Error("nope"), { code: "ENOENT" });
    expect(isErrnoError(error)).toBe(true);
    expect(isErrnoError(error, "ENOENT", "EEXIST")).toBe(true);
    expect(isErrnoError(error, "EEXIST")).toBe(false);
    expect(isErrnoError(new Error("plain"))).toBe(false);
    expect(isErrnoError(undefined)).toBe(false);
  });
});
