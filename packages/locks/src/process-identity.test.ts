import { afterEach, describe, expect, it, vi } from "vitest";
import {
  forgetSystemBootId,
  isProcessAliveBySignal,
  processHeldLockIds,
  processStartedAt,
  systemBootId,
} from "./process-identity.js";

afterEach(() => {
  vi.restoreAllMocks();
  forgetSystemBootId();
});

const failWith = (code: string) => () => {
  throw Object.assign(new Error(code), { code });
};

describe("isProcessAliveBySignal", () => {
  it("sees this process as alive and a pid above pid_max as dead, for real", () => {
    expect(isProcessAliveBySignal(process.pid)).toBe(true);
    expect(isProcessAliveBySignal(2 ** 22 + 1)).toBe(false);
  });

  it("maps kill(pid, 0) results: ESRCH dead; success, EPERM or anything else alive", () => {
    const kill = vi.spyOn(process, "kill");
    kill.mockImplementation(failWith("ESRCH"));
    expect(isProcessAliveBySignal(10)).toBe(false);
    kill.mockImplementation(failWith("EPERM"));
    expect(isProcessAliveBySignal(10)).toBe(true);
    kill.mockImplementation(failWith("EINVAL"));
    expect(isProcessAliveBySignal(10)).toBe(true);
    kill.mockImplementation(() => true);
    expect(isProcessAliveBySignal(10)).toBe(true);
    expect(kill).toHaveBeenCalledWith(10, 0);
  });
});

describe("systemBootId", () => {
  it("reads the kernel boot id once and caches it", () => {
    const read = vi.fn(() => "8f0c-boot\n");
    expect(systemBootId(read)).toBe("8f0c-boot");
    expect(systemBootId(() => "other")).toBe("8f0c-boot");
    expect(read).toHaveBeenCalledTimes(1);
  });

  it("falls back to a random id when the file cannot be read or is empty", () => {
    const unreadable = systemBootId(() => {
      throw new Error("ENOENT");
    });
    expect(unreadable).toMatch(/^random-[0-9a-f-]{36}$/);
    forgetSystemBootId();
    expect(systemBootId(() => "  \n")).toMatch(/^random-/);
    forgetSystemBootId();
    expect(systemBootId(() => "  \n")).not.toBe(unreadable);
  });
});

describe("process facts", () => {
  it("knows when this process started", () => {
    expect(processStartedAt).toBeLessThanOrEqual(Date.now());
    expect(processStartedAt).toBeGreaterThan(Date.now() - 3_600_000);
  });

  it("shares one registry of held lock ids per process and filesystem, across module copies", () => {
    const disk = {};
    const ids = processHeldLockIds(disk);
    expect(processHeldLockIds(disk)).toBe(ids);
    expect(processHeldLockIds({})).not.toBe(ids);
    const registry = (globalThis as unknown as Record<symbol, WeakMap<object, Set<string>>>)[
      Symbol.for("beauvoir.locks.heldIdsByFileSystem")
    ];
    expect(registry?.get(disk)).toBe(ids);
  });
});
