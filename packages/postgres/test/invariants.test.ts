import { describe, expect, it } from "vitest";
import type { PostgresBackend } from "../src/backend.js";
import type { PostgresLockHandle } from "../src/lock-handle.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function replicas(count: number): Promise<PostgresBackend[]> {
  const result = [];
  for (let index = 0; index < count; index++) {
    const backend = db.backend({ sealer: { enabled: false }, poolOptions: { max: 6 } });
    await backend.start();
    result.push(backend);
  }
  return result;
}

describe("invariants under contention", () => {
  it("lock fences strictly increase and at most one unexpired holder exists at any database instant", async () => {
    // Every version of every lock row, as the database wrote it.
    await db.admin.query(`
      CREATE TABLE lock_history (name text, holder_id uuid, fence bigint, acquired_at timestamptz,
                                 expires_at timestamptz, version bigserial);
      CREATE FUNCTION record_lock() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO lock_history (name, holder_id, fence, acquired_at, expires_at)
        VALUES (NEW.name, NEW.holder_id, NEW.fence, NEW.acquired_at, NEW.expires_at);
        RETURN NEW;
      END $$;
      CREATE TRIGGER lock_history AFTER INSERT OR UPDATE ON beauvoir.locks
        FOR EACH ROW EXECUTE FUNCTION record_lock();`);
    const group = await replicas(4);
    const stopAt = Date.now() + 3_000;
    let grants = 0;
    let abandoned = 0;
    await Promise.all(
      group.flatMap((backend) =>
        [0, 1].map(async () => {
          while (Date.now() < stopAt) {
            const renew = Math.random() < 0.5;
            let lock: PostgresLockHandle;
            try {
              lock = await backend.locks.acquire("hot", {
                waitMs: 1_000,
                ttlMs: 250,
                autoRenew: renew,
              });
            } catch (error) {
              if ((error as { code?: string }).code === "LOCK_HELD") continue;
              throw error;
            }
            grants++;
            await sleep(Math.random() * 40);
            // Some holders vanish without releasing; their lease runs out.
            if (!renew && Math.random() < 0.3) abandoned++;
            else await lock.release();
          }
        }),
      ),
    );
    const { rows } = await db.admin.query<{
      fence: string;
      acquired_at: Date;
      expires_at: Date;
    }>(`
      SELECT DISTINCT ON (holder_id) fence::text, acquired_at, expires_at
        FROM lock_history WHERE name = 'hot' ORDER BY holder_id, version DESC`);
    expect(rows.length).toBe(grants);
    expect(grants).toBeGreaterThan(10);
    expect(abandoned).toBeGreaterThan(0);
    const byAcquisition = [...rows].sort(
      (left, right) =>
        left.acquired_at.getTime() - right.acquired_at.getTime() ||
        Number(left.fence) - Number(right.fence),
    );
    for (let index = 1; index < byAcquisition.length; index++) {
      const before = byAcquisition[index - 1]!;
      const after = byAcquisition[index]!;
      expect(Number(after.fence)).toBeGreaterThan(Number(before.fence));
      // The next grant starts no earlier than the previous holder's lease ended.
      expect(after.acquired_at.getTime()).toBeGreaterThanOrEqual(before.expires_at.getTime());
    }
  });

  it("the limiter never allows more than capacity + rate × elapsed, across replicas", async () => {
    const group = await replicas(3);
    const limiters = group.map((backend) =>
      backend.createRateLimiter({
        scope: "invariant",
        global: { capacity: 5, refillPerHour: 36_000 },
        perWorkflow: { capacity: 1_000, refillPerHour: 3_600_000 },
      }),
    );
    const clock = async () =>
      (await db.admin.query("SELECT clock_timestamp() AS now")).rows[0].now.getTime() as number;
    const startedAt = await clock();
    const stopAt = Date.now() + 2_000;
    let allowed = 0;
    let refused = 0;
    await Promise.all(
      limiters.flatMap((limiter, index) =>
        Array.from({ length: 5 }, async (_, worker) => {
          while (Date.now() < stopAt) {
            const verdict = await limiter.tryConsume(`w${index}-${worker % 2}`);
            if (verdict.allowed) allowed++;
            else refused++;
          }
        }),
      ),
    );
    const elapsedSeconds = ((await clock()) - startedAt) / 1000;
    expect(allowed).toBeGreaterThanOrEqual(5);
    expect(refused).toBeGreaterThan(0);
    expect(allowed).toBeLessThanOrEqual(5 + 10 * elapsedSeconds);
  });
});
