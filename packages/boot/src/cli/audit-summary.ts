import type { AuditVerifyReport } from "@beauvoir/audit-trail";

/** What `status` and the report say about the audit chain. */
export interface AuditSummary {
  valid: boolean;
  /** Records that verified (before the break, when broken). */
  records: number;
  headSeq: number | null;
  headHash: string | null;
  /** Why it does not verify. */
  reason?: string;
  detail?: string;
  brokenAt?: number;
  hmacChecked: boolean;
}

/**
 * The summary of a verification.
 * @param verification - what `verifyAuditFile` returned.
 * @param hmacChecked - whether it ran under a key.
 */
export function summarizeVerification(
  verification: AuditVerifyReport,
  hmacChecked: boolean,
): AuditSummary {
  return {
    valid: verification.valid,
    records: verification.records,
    headSeq: verification.lastSeq ?? null,
    headHash: verification.lastHash ?? null,
    hmacChecked,
    ...(verification.reason === undefined ? {} : { reason: verification.reason }),
    ...(verification.detail === undefined ? {} : { detail: verification.detail }),
    ...(verification.brokenAt === undefined ? {} : { brokenAt: verification.brokenAt }),
  };
}
