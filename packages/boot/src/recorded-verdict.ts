import { isReconciledMarker } from "./step-outcome.js";

/**
 * The codes the executor writes at the start of a recorded error (in the
 * audit trail and the index), `CODE: explanation`. They say what became of
 * the key, so the audit trail alone can tell whether a step may run again.
 */
export const RECORDED_ERROR_CODES = Object.freeze({
  /** This attempt failed; the step tries again (the key stayed runnable). */
  retrying: "RETRYING",
  /** Attempts ran out on a failure that sent nothing; the key stays runnable. */
  notSent: "NOT_SENT",
  /** The remote refused (a 4xx); the key is failed for good. */
  rejected: "REJECTED",
  /** Attempts ran out on an ambiguous failure of a `safe_retry` action; failed for good. */
  failed: "FAILED",
  /** It may or may not have happened and nothing can check (`skip`, no hook); failed for good. */
  outcomeUnknown: "OUTCOME_UNKNOWN",
  /** The process stopped before this intent's side effect started. */
  abandoned: "ABANDONED",
  /** The step was run again under a newer intent. */
  superseded: "SUPERSEDED",
  /** The index refused the claim (the key settled or was taken in between); nothing ran. */
  notClaimed: "NOT_CLAIMED",
  /** An operator cleared the key (`resetKey`). */
  reset: "RESET",
  /** An operator said it did not happen (`resolveKey(key, "not_done")`). */
  notDone: "NOT_DONE",
  /**
   * A replica whose lease ended left the step pending; a live one took it over
   * and released it to run again (`safe_retry`, or its reconcile hook said not done).
   */
  takenOver: "TAKEN_OVER",
});

const RUNNABLE: ReadonlySet<string> = new Set([
  RECORDED_ERROR_CODES.retrying,
  RECORDED_ERROR_CODES.notSent,
  RECORDED_ERROR_CODES.abandoned,
  RECORDED_ERROR_CODES.superseded,
  RECORDED_ERROR_CODES.reset,
  RECORDED_ERROR_CODES.notDone,
  RECORDED_ERROR_CODES.takenOver,
]);

/** What the latest result recorded for a key says about it. */
export type RecordedVerdict = "completed" | "reconciled" | "runnable" | "in_doubt" | "failed";

/**
 * Reads the latest result recorded for a key.
 * @param record - its `result` and `error`.
 * @returns `completed` (or `reconciled`) without an error; `runnable`,
 *   `in_doubt` or `failed` by the error's code (an error without one of the
 *   executor's codes, e.g. from an earlier version, is `failed`).
 */
export function recordedVerdict(record: {
  result?: unknown;
  error?: string | undefined;
}): RecordedVerdict {
  if (record.error === undefined) {
    return isReconciledMarker(record.result) ? "reconciled" : "completed";
  }
  const code = record.error.slice(0, record.error.indexOf(":"));
  if (RUNNABLE.has(code)) return "runnable";
  if (code === RECORDED_ERROR_CODES.notClaimed) return "in_doubt";
  return "failed";
}
