import { join } from "node:path";
import type { AuditVerifyReport } from "@beauvoir/audit-trail";
import { type FileSystem, isErrnoError } from "@beauvoir/core";

/** The current file of boot's audit trail, in its `audit/` directory. */
const CURRENT_AUDIT_FILE = "audit.jsonl";

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

/** What {@link withCompletenessCheck} needs to know about the data directory. */
export interface CompletenessContext {
  fs: FileSystem;
  /** The data directory's `audit/`. */
  auditDir: string;
  /** Whether the rest of the data directory says records were written (the index knows keys). */
  recordsExpected: boolean;
}

/**
 * A chain that verifies is still not a history to trust when its current
 * file is gone (the newest records with it) or it holds no record although
 * the index knows steps: the same failures `beauvoir audit verify` reports.
 * @param summary - the verification's summary.
 * @param context - the data directory.
 * @returns the summary, marked broken when the history is cut.
 */
export async function withCompletenessCheck(
  summary: AuditSummary,
  context: CompletenessContext,
): Promise<AuditSummary> {
  if (!summary.valid) return summary;
  try {
    await context.fs.stat(join(context.auditDir, CURRENT_AUDIT_FILE));
  } catch (error) {
    if (!isErrnoError(error, "ENOENT")) throw error;
    if (summary.records > 0 || context.recordsExpected) {
      return {
        ...summary,
        valid: false,
        reason: "missing_current_file",
        detail: `the current file ${CURRENT_AUDIT_FILE} is missing (deleted, or moved aside): the newest records may be gone`,
      };
    }
  }
  if (summary.records === 0 && context.recordsExpected) {
    return {
      ...summary,
      valid: false,
      reason: "empty_history",
      detail:
        "the audit trail holds no record, but the idempotency index knows steps: its records are gone",
    };
  }
  return summary;
}
