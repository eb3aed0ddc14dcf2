import { describe, expect, it } from "vitest";
import { contractArguments } from "./contract-arguments.js";
import type { ContractClaim, IdempotencySubject } from "./subjects.js";

let keys = 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Keys both backends must give the same calls: the file index's rule,
 * `{action}:{redacted scope}/{redacted resource}:{16 hex of SHA-256 over the
 * canonical JSON of { params, resource, scope }}`.
 */
export const KEY_VECTORS: ReadonlyArray<{
  call: [action: string, scope: string, resource: string, params: Record<string, unknown>];
  key: string;
}> = Object.freeze([
  {
    call: ["add_labels", "acme/widgets", "issue-12", { labels: ["bug"] }],
    key: "add_labels:acme/widgets/issue-12:ec2d5b7d44c5b1cf",
  },
  {
    call: ["add_issue_comment", "acme/widgets", "issue-12", { body: "Thanks!", n: 1 }],
    key: "add_issue_comment:acme/widgets/issue-12:dfdd4743d49b0854",
  },
  {
    // Key order does not matter: the JSON is canonical.
    call: ["add_issue_comment", "acme/widgets", "issue-12", { n: 1, body: "Thanks!" }],
    key: "add_issue_comment:acme/widgets/issue-12:dfdd4743d49b0854",
  },
]);

/**
 * The idempotency contract: the same calls get the same keys on every
 * backend; a claimed key is not claimed again until it is settled; a
 * completed key deduplicates with its result in JSON-safe form; a failed key
 * stays failed; a released or reset key runs again; a settled key past its
 * TTL runs again; of many concurrent claims one wins. With `attemptIds`, each
 * claim carries a new attempt id and a higher fence.
 * @param makeSubject - called once per test, with the TTL the test needs.
 */
export function idempotencyContract(
  makeSubject: (options?: { ttlMs?: number }) => Promise<IdempotencySubject>,
): void;
/**
 * The same suite, titled with the backend's name.
 * @param name - the backend, for the suite's title.
 * @param makeSubject - as for the untitled suite.
 */
export function idempotencyContract(
  name: string,
  makeSubject: (options?: { ttlMs?: number }) => Promise<IdempotencySubject>,
): void;
export function idempotencyContract(
  first: string | ((options?: { ttlMs?: number }) => Promise<IdempotencySubject>),
  second?: (options?: { ttlMs?: number }) => Promise<IdempotencySubject>,
): void {
  const { name, makeSubject } = contractArguments(first, second);
  const step = (resource: string) => ({
    action: "add_labels",
    target: `acme/widgets#${resource}`,
    params: { resource },
  });
  const freshKey = (subject: IdempotencySubject, label: string) =>
    subject.generateKey("add_labels", "acme/widgets", `${label}-${++keys}-${Date.now()}`, {});
  const claimed = (claim: ContractClaim): ContractClaim & { claimed: true } => {
    expect(claim.claimed).toBe(true);
    return claim as ContractClaim & { claimed: true };
  };

  describe(`idempotency contract: ${name}`, () => {
    it("gives the same call the same key as every backend, with no secret in it", async () => {
      const subject = await makeSubject();
      for (const { call, key } of KEY_VECTORS) expect(subject.generateKey(...call)).toBe(key);
      const token = `ghp_${"A1b2C3d4".repeat(4)}abcd`;
      const secret = subject.generateKey("add_labels", `acme/${token}`, "issue-1", { token });
      expect(secret).not.toContain(token);
      expect(secret).toMatch(/^add_labels:.+:[0-9a-f]{16}$/);
      // Calls differing only in a secret still get different keys.
      expect(subject.generateKey("add_labels", "acme", "issue-1", { token })).not.toBe(
        subject.generateKey("add_labels", "acme", "issue-1", { token: `${token}x` }),
      );
    });

    it("claims a key once, deduplicates it once completed, with the result in its JSON-safe form", async () => {
      const subject = await makeSubject();
      const key = freshKey(subject, "once");
      const claim = claimed(await subject.claim(key, step("once")));
      expect(await subject.claim(key, step("once"))).toEqual({ claimed: false, status: "pending" });
      expect(await subject.check(key)).toMatchObject({ status: "pending" });
      await subject.settle(key, claim, {
        status: "completed",
        result: {
          id: 7,
          big: 12345678901234567890n,
          tags: new Set(["a", "b"]),
          nothing: undefined,
        },
      });
      expect(await subject.check(key)).toEqual({
        status: "completed",
        result: { id: 7, big: "12345678901234567890", tags: ["a", "b"] },
      });
      expect(await subject.claim(key, step("once"))).toEqual({
        claimed: false,
        status: "completed",
      });
    });

    it("keeps a failed key failed, and lets a released one be claimed again", async () => {
      const subject = await makeSubject();
      const failed = freshKey(subject, "failed");
      await subject.settle(failed, claimed(await subject.claim(failed, step("f"))), {
        status: "failed",
        error: "REJECTED: HTTP 422",
      });
      expect(await subject.check(failed)).toMatchObject({
        status: "failed",
        error: "REJECTED: HTTP 422",
      });
      expect(await subject.claim(failed, step("f"))).toEqual({ claimed: false, status: "failed" });
      const released = freshKey(subject, "released");
      const first = claimed(await subject.claim(released, step("r")));
      await subject.settle(released, first, { status: "released", error: "NOT_SENT: refused" });
      expect(await subject.check(released)).toBeNull();
      const second = claimed(await subject.claim(released, step("r")));
      if (subject.capabilities.attemptIds) {
        expect(second.attemptId).toMatch(/^[0-9a-f-]{36}$/);
        expect(second.attemptId).not.toBe(first.attemptId);
        expect(second.fence).toBeGreaterThan(first.fence as number);
      } else {
        expect([first.attemptId, second.attemptId, first.fence, second.fence]).toEqual([
          undefined,
          undefined,
          undefined,
          undefined,
        ]);
      }
      await subject.settle(released, second, { status: "completed", result: "second" });
      expect(await subject.check(released)).toEqual({ status: "completed", result: "second" });
    });

    it("makes any key runnable again on an operator's reset", async () => {
      const subject = await makeSubject();
      for (const status of ["completed", "failed"] as const) {
        const key = freshKey(subject, `reset-${status}`);
        const claim = claimed(await subject.claim(key, step(status)));
        await subject.settle(
          key,
          claim,
          status === "completed" ? { status, result: 1 } : { status, error: "REJECTED: no" },
        );
        await subject.reset(key);
        expect(await subject.check(key)).toBeNull();
        claimed(await subject.claim(key, step(status)));
      }
    });

    it("lets exactly one of many concurrent claims of a key win", async () => {
      const subject = await makeSubject();
      const key = freshKey(subject, "race");
      const claims = await Promise.allSettled(
        Array.from({ length: 8 }, () => subject.claim(key, step("race"))),
      );
      const won = claims.filter(
        (outcome) => outcome.status === "fulfilled" && outcome.value.claimed,
      );
      expect(won).toHaveLength(1);
      for (const outcome of claims) {
        if (outcome.status === "fulfilled" && !outcome.value.claimed) {
          expect(outcome.value.status).toBe("pending");
        }
      }
    });

    it("deduplicates a settled key within its TTL, and runs it again once it has expired", async () => {
      const subject = await makeSubject({ ttlMs: 300 });
      expect(subject.ttlMs).toBe(300);
      const key = freshKey(subject, "ttl");
      await subject.settle(key, claimed(await subject.claim(key, step("ttl"))), {
        status: "completed",
        result: "first",
      });
      expect(await subject.claim(key, step("ttl"))).toEqual({
        claimed: false,
        status: "completed",
      });
      await sleep(600);
      await subject.evictExpired();
      expect(await subject.check(key)).toBeNull();
      claimed(await subject.claim(key, step("ttl")));
    });
  });
}
