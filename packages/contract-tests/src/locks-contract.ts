import { describe, expect, it } from "vitest";
import { contractArguments } from "./contract-arguments.js";
import type { LocksSubject } from "./subjects.js";

let locks = 0;
const fresh = (label: string) => `contract-${label}-${++locks}-${Date.now().toString(36)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The locks contract: a held lock is refused to any other holder
 * (`LOCK_HELD`), given to a waiter once released, and never held by two at
 * once; with `fences`, each grant's fencing token is higher than every
 * earlier one's; with `leases`, a lock its holder stopped renewing passes on
 * after its ttl.
 * @param makeSubject - called once per test.
 */
export function locksContract(makeSubject: () => Promise<LocksSubject>): void;
/**
 * The same suite, titled with the backend's name.
 * @param name - the backend, for the suite's title.
 * @param makeSubject - as for the untitled suite.
 */
export function locksContract(name: string, makeSubject: () => Promise<LocksSubject>): void;
export function locksContract(
  first: string | (() => Promise<LocksSubject>),
  second?: () => Promise<LocksSubject>,
): void {
  const { name, makeSubject } = contractArguments(first, second);
  describe(`locks contract: ${name}`, () => {
    it("refuses a held lock to another holder, at once, and grants it after release", async () => {
      const subject = await makeSubject();
      const lock = fresh("held");
      const first = await subject.open();
      const second = await subject.open();
      const held = await first.acquire(lock);
      await expect(second.acquire(lock, { waitMs: 0 })).rejects.toMatchObject({
        code: "LOCK_HELD",
      });
      await held.release();
      const next = await second.acquire(lock, { waitMs: 0 });
      await next.release();
      await first.releaseAll();
      await second.releaseAll();
    });

    it("is not re-entrant: the same holder asking again is refused too", async () => {
      const subject = await makeSubject();
      const lock = fresh("reentrant");
      const holder = await subject.open();
      const held = await holder.acquire(lock);
      await expect(holder.acquire(lock, { waitMs: 0 })).rejects.toMatchObject({
        code: "LOCK_HELD",
      });
      await held.release();
    });

    it("hands the lock to a waiter when it is released, and to one holder at a time", async () => {
      const subject = await makeSubject();
      const lock = fresh("waiters");
      const holders = await Promise.all([subject.open(), subject.open(), subject.open()]);
      let inside = 0;
      let most = 0;
      let grants = 0;
      await Promise.all(
        holders.flatMap((holder) =>
          [0, 1].map(async () => {
            const held = await holder.acquire(lock, { waitMs: 20_000 });
            inside++;
            grants++;
            most = Math.max(most, inside);
            await sleep(15);
            inside--;
            await held.release();
          }),
        ),
      );
      expect(grants).toBe(6);
      expect(most).toBe(1);
    });

    it("gives every grant a fencing token higher than all before it (or, without fences, none)", async () => {
      const subject = await makeSubject();
      const lock = fresh("fences");
      const first = await subject.open();
      const second = await subject.open();
      const seen: (number | undefined)[] = [];
      for (let round = 0; round < 4; round++) {
        const holder = round % 2 === 0 ? first : second;
        const held = await holder.acquire(lock, { waitMs: 5_000 });
        seen.push(held.fence);
        await held.release();
      }
      if (subject.capabilities.fences) {
        for (let index = 1; index < seen.length; index++) {
          expect(seen[index]).toBeGreaterThan(seen[index - 1] as number);
        }
      } else {
        expect(seen).toEqual([undefined, undefined, undefined, undefined]);
      }
    });

    it("passes a lock whose holder stopped renewing it on after its ttl (or, without leases, keeps it until release)", async () => {
      const subject = await makeSubject();
      const lock = fresh("lease");
      const first = await subject.open();
      const second = await subject.open();
      // A holder that never releases (and, with leases, never renews: ttl 300 ms).
      const abandoned = await first.acquire(lock, { ttlMs: 300, autoRenew: false });
      await sleep(600);
      const taken = await second.acquire(lock, { waitMs: 0 }).then(
        (handle) => handle,
        (error: unknown) => error as { code?: string },
      );
      if (subject.capabilities.leases) {
        expect(taken).toHaveProperty("release");
        if (subject.capabilities.fences) {
          expect((taken as { fence: number }).fence).toBeGreaterThan(abandoned.fence as number);
        }
        await (taken as { release(): unknown }).release();
      } else {
        expect(taken).toMatchObject({ code: "LOCK_HELD" });
        await abandoned.release();
      }
      await first.releaseAll();
      await second.releaseAll();
    });
  });
}
