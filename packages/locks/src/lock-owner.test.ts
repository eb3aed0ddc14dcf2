import { describe, expect, it } from "vitest";
import { decodeOwner, encodeOwner, LOCK_FILE_VERSION, type LockOwner } from "./lock-owner.js";

const valid: LockOwner = {
  id: "a1",
  pid: 123,
  bootId: "boot",
  createdAt: 1_700_000_000_000,
  lockVersion: 1,
};
const decode = (value: unknown) =>
  decodeOwner(Buffer.from(typeof value === "string" ? value : JSON.stringify(value)));

describe("lock file records", () => {
  it("round-trips a record, with and without renewedAt", () => {
    expect(decodeOwner(encodeOwner(valid))).toEqual(valid);
    expect(decodeOwner(encodeOwner({ ...valid, renewedAt: 1_700_000_500_000 }))).toEqual({
      ...valid,
      renewedAt: 1_700_000_500_000,
    });
    expect(LOCK_FILE_VERSION).toBe(2);
  });

  it("returns a frozen copy holding only the known fields", () => {
    const owner = decode({ ...valid, extra: "ignored" });
    expect(owner).toEqual(valid);
    expect(Object.isFrozen(owner)).toBe(true);
  });

  it("does not let a __proto__ key pollute prototypes", () => {
    const owner = decode(
      `{"__proto__":{"polluted":true},"id":"a1","pid":123,"bootId":"b","createdAt":1,"lockVersion":1}`,
    );
    expect(owner).toBeDefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((owner as unknown as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ["empty", ""],
    ["truncated", '{"id":"a1","pid":1'],
    ["null", "null"],
    ["array", "[]"],
    ["number", "42"],
    ["missing id", { ...valid, id: undefined }],
    ["empty id", { ...valid, id: "" }],
    ["pid 0 (a process group)", { ...valid, pid: 0 }],
    ["negative pid", { ...valid, pid: -5 }],
    ["fractional pid", { ...valid, pid: 1.5 }],
    ["string pid", { ...valid, pid: "123" }],
    ["missing bootId", { ...valid, bootId: undefined }],
    ["non-numeric createdAt", { ...valid, createdAt: "today" }],
    ["lockVersion 0", { ...valid, lockVersion: 0 }],
    ["missing lockVersion", { ...valid, lockVersion: undefined }],
    ["non-numeric renewedAt", { ...valid, renewedAt: "later" }],
  ])("rejects %s", (_label, value) => {
    expect(decode(value)).toBeUndefined();
  });
});
