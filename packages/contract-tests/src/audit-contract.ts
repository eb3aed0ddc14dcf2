import { describe, expect, it } from "vitest";
import { contractArguments } from "./contract-arguments.js";
import { readVerifiedHistory } from "./history.js";
import type { AuditSubject } from "./subjects.js";

const TOKEN = `ghp_${"Z9y8X7w6".repeat(4)}wxyz`;

/**
 * The audit contract: intents, results, denials and dry runs are exported in
 * the one record format both verifiers accept, seq gap-free from 1; a
 * result copies its intent's action, target and dedupe key; an intent gets at
 * most one result (`AUDIT_UNKNOWN_INTENT` for a second one, or for an id that
 * is no intent); secrets are redacted before anything is written; the latest
 * result of a dedupe key is found with its time. Ids are seqs
 * (`seqAtWrite`) or record ids that the sealer orders as they were written.
 * @param makeSubject - called once per test, on an empty history.
 */
export function auditContract(makeSubject: () => Promise<AuditSubject>): void;
/**
 * The same suite, titled with the backend's name.
 * @param name - the backend, for the suite's title.
 * @param makeSubject - as for the untitled suite.
 */
export function auditContract(name: string, makeSubject: () => Promise<AuditSubject>): void;
export function auditContract(
  first: string | (() => Promise<AuditSubject>),
  second?: () => Promise<AuditSubject>,
): void {
  const { name, makeSubject } = contractArguments(first, second);
  describe(`audit contract: ${name}`, () => {
    it("exports every kind of record, in write order, verified by both verifiers", async () => {
      const subject = await makeSubject();
      const intent = await subject.recordIntent({
        action: "add_labels",
        target: "acme/widgets#1",
        params: { labels: ["bug"], token: TOKEN },
        dedupeKey: "k-1",
      });
      const result = await subject.recordResult(intent, { ok: true, echo: TOKEN });
      const denied = await subject.recordDenied({
        action: "delete_repo",
        target: "acme/widgets",
        params: {},
        reason: "not allowed",
      });
      const dry = await subject.recordDryRun({
        action: "add_labels",
        target: "acme/widgets#2",
        params: {},
      });
      const ids = [intent, result, denied, dry];
      expect(new Set(ids).size).toBe(4);
      for (let index = 1; index < ids.length; index++) {
        expect(ids[index]).toBeGreaterThan(ids[index - 1] as number);
      }
      const records = await readVerifiedHistory(await subject.exportHistory(), subject.hmacKey);
      expect(records.map((record) => record.phase)).toEqual([
        "intent",
        "result",
        "denied",
        "dry_run",
      ]);
      if (subject.capabilities.seqAtWrite) {
        expect(records.map((record) => record.seq)).toEqual(ids);
      }
      const [intentRecord, resultRecord, deniedRecord] = records;
      expect(intentRecord).toMatchObject({
        action: "add_labels",
        target: "acme/widgets#1",
        dedupeKey: "k-1",
        params: { labels: ["bug"] },
        prevHash: "genesis",
      });
      expect(resultRecord).toMatchObject({
        intentSeq: intentRecord?.seq,
        action: "add_labels",
        dedupeKey: "k-1",
        result: { ok: true },
      });
      expect(deniedRecord).toMatchObject({ phase: "denied", error: "not allowed" });
      const exported = JSON.stringify(records);
      expect(exported).not.toContain(TOKEN);
      expect(exported).toContain("[REDACTED");
    });

    it("gives an intent one result: a second one, or one for an id that is no intent, is refused", async () => {
      const subject = await makeSubject();
      const intent = await subject.recordIntent({ action: "a", target: "t", params: {} });
      await subject.recordResult(intent, undefined, "FAILED: boom");
      await expect(subject.recordResult(intent, "again")).rejects.toMatchObject({
        code: "AUDIT_UNKNOWN_INTENT",
      });
      const denied = await subject.recordDenied({ action: "a", target: "t", params: {} });
      await expect(subject.recordResult(denied, "x")).rejects.toMatchObject({
        code: "AUDIT_UNKNOWN_INTENT",
      });
      const found = await subject.findResultByIntentSeq(intent);
      expect(found).toMatchObject({ error: "FAILED: boom" });
      expect(found?.result).toBeUndefined();
      const records = await readVerifiedHistory(await subject.exportHistory(), subject.hmacKey);
      expect(records.filter((record) => record.phase === "result")).toHaveLength(1);
    });

    it("finds the latest result of a dedupe key, with when it was recorded", async () => {
      const subject = await makeSubject();
      expect(await subject.findResultByDedupeKey("k-latest")).toBeNull();
      const before = Date.now();
      for (const attempt of [1, 2]) {
        const intent = await subject.recordIntent({
          action: "add_issue_comment",
          target: "acme/widgets#3",
          params: { attempt },
          dedupeKey: "k-latest",
        });
        await subject.recordResult(
          intent,
          attempt === 2 ? { commentId: 99 } : undefined,
          attempt === 1 ? "RETRYING: 502" : undefined,
        );
      }
      const latest = await subject.findResultByDedupeKey("k-latest");
      expect(latest).toMatchObject({ result: { commentId: 99 } });
      expect(latest?.error).toBeUndefined();
      expect(Date.parse(latest?.ts ?? "")).toBeGreaterThanOrEqual(before - 5_000);
      expect(Date.parse(latest?.ts ?? "")).toBeLessThanOrEqual(Date.now() + 5_000);
    });

    it("keeps many concurrent writers' records whole and gap-free", async () => {
      const subject = await makeSubject();
      await Promise.all(
        Array.from({ length: 16 }, async (_, writer) => {
          for (let index = 0; index < 5; index++) {
            const intent = await subject.recordIntent({
              action: "write",
              target: `w${writer}`,
              params: { index },
              dedupeKey: `w${writer}-${index}`,
            });
            await subject.recordResult(intent, { writer, index });
          }
        }),
      );
      const records = await readVerifiedHistory(await subject.exportHistory(), subject.hmacKey);
      expect(records).toHaveLength(160);
    });
  });
}
