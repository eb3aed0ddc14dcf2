import { describe, expect, it } from "vitest";
import { BeauvoirError } from "./beauvoir-error.js";
import { FailStoppedError } from "./fail-stopped-error.js";

describe("FailStoppedError", () => {
  it("names the file and keeps the first failure as its cause", () => {
    const cause = Object.assign(new Error("EIO: fsync"), { code: "EIO" });
    const error = new FailStoppedError("/data/audit.jsonl", cause);
    expect(error.code).toBe("FAIL_STOPPED");
    expect(error.path).toBe("/data/audit.jsonl");
    expect(error.cause).toBe(cause);
    expect(error.message).toContain("/data/audit.jsonl");
    expect(FailStoppedError.isInstance(error)).toBe(true);
    expect(BeauvoirError.isInstance(error)).toBe(true);
    expect(FailStoppedError.isInstance(new Error("x"))).toBe(false);
  });
});
