import { BeauvoirError } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { LockCorruptError, LockHeldError, LockIoError } from "./errors.js";

const owner = { id: "x", pid: 7, bootId: "b", createdAt: Date.UTC(2025, 0, 1), lockVersion: 1 };

describe("errors", () => {
  it("LockHeldError carries the lock name, owner and wait, and a readable message", () => {
    const error = new LockHeldError("instance", owner, 0);
    expect(error).toBeInstanceOf(BeauvoirError);
    expect(error.name).toBe("LockHeldError");
    expect(error.code).toBe("LOCK_HELD");
    expect(error.message).toBe(
      'Lock "instance" is held by pid 7 (boot b, since 2025-01-01T00:00:00.000Z)',
    );
    expect(new LockHeldError("instance", owner, 250).message).toMatch(/after waiting 250 ms$/);
  });

  it("isInstance recognises errors across package copies by code, and nothing else", () => {
    const foreign = Object.assign(new Error("copy"), {});
    Object.defineProperty(foreign, Symbol.for("beauvoir.error.LOCK_HELD"), { value: true });
    expect(LockHeldError.isInstance(foreign)).toBe(true);
    expect(LockHeldError.isInstance(new LockCorruptError("a", "/x/a.lock", 5, 10))).toBe(false);
    expect(LockCorruptError.isInstance(new LockHeldError("a", owner, 0))).toBe(false);
    expect(LockHeldError.isInstance(null)).toBe(false);
  });

  it("LockCorruptError tells when the file will be treated as stale", () => {
    const error = new LockCorruptError("a", "/x/a.lock", 1_234.4, 10_000);
    expect(error.code).toBe("LOCK_CORRUPT");
    expect(error.message).toContain("1234 ms old");
    expect(error.message).toContain("10000 ms");
  });

  it("LockIoError names the lock, the path and the system error, which it keeps as cause", () => {
    const cause = Object.assign(new Error("EISDIR: illegal operation on a directory"), {
      code: "EISDIR",
    });
    const error = new LockIoError("instance", "/x/instance.lock", cause);
    expect(error).toMatchObject({
      code: "LOCK_IO_FAILED",
      lockName: "instance",
      path: "/x/instance.lock",
      errorCode: "EISDIR",
      cause,
    });
    expect(error.message).toContain("/x/instance.lock (EISDIR)");
    expect(LockIoError.isInstance(error)).toBe(true);
    expect(new LockIoError("a", "/x", "odd").errorCode).toBeUndefined();
  });
});
