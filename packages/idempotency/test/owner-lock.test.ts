import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LockHeldError, LockManager } from "@beauvoir/locks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IdempotencyIndex } from "../src/idempotency-index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-lock-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("owner lock through @beauvoir/locks", () => {
  it("lets one index at a time open a directory, with the default lock manager", async () => {
    const first = new IdempotencyIndex({ dir });
    await first.initialize();
    expect(await readdir(join(dir, "locks"))).toContain("idempotency-index.lock");
    const second = new IdempotencyIndex({ dir });
    const error = await second.initialize().catch((caught: unknown) => caught);
    expect(LockHeldError.isInstance(error)).toBe(true);
    await first.markPending("k", 1);
    await first.close();
    expect(await readdir(join(dir, "locks"))).not.toContain("idempotency-index.lock");
    await second.initialize();
    expect(await second.check("k")).toMatchObject({ status: "pending" });
    await second.close();
  });

  it("uses a shared lock manager and lock name when given", async () => {
    const lockDir = join(dir, "shared-locks");
    const locks = new LockManager({ lockDir });
    const index = new IdempotencyIndex({ dir: join(dir, "index"), locks, lockName: "my-index" });
    await index.initialize();
    expect(await readdir(lockDir)).toContain("my-index.lock");
    await expect(locks.acquire("my-index")).rejects.toMatchObject({ code: "LOCK_HELD" });
    await index.close();
    expect(await readdir(lockDir)).not.toContain("my-index.lock");
  });

  it("waits lockWaitMs for the owner lock", async () => {
    const first = new IdempotencyIndex({ dir });
    await first.initialize();
    const second = new IdempotencyIndex({ dir, lockWaitMs: 5000 });
    const opening = second.initialize();
    setTimeout(() => void first.close(), 50);
    await opening;
    await second.close();
  });
});
