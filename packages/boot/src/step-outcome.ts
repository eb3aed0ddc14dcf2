import type { JsonSafe } from "./json-safe.js";

/**
 * How a step ended.
 *
 * - `executed`: the side effect ran now; `result` is what `run()` returned.
 * - `deduplicated`: it had already completed (or was running) and did not
 *   run again; `result` is the recorded one, in its {@link JsonSafe} form
 *   (redacted when it comes from the audit trail).
 * - `reconciled`: it happened, as its reconcile hook (or an operator) said,
 *   and was not run again; what it returned is unknown, so `result` is `undefined`.
 * - `read`: a read step ran; `result` is what `run()` returned.
 * - `dry_run`: a `dry_run` record was written instead of running it.
 */
export type StepOutcome<Result = unknown> =
  | ExecutedOutcome<Result>
  | DeduplicatedOutcome<Result>
  | ReconciledOutcome
  | ReadOutcome<Result>
  | DryRunOutcome;

/** How a write step can end. */
export type WriteOutcome<Result = unknown> =
  | ExecutedOutcome<Result>
  | DeduplicatedOutcome<Result>
  | ReconciledOutcome
  | DryRunOutcome;

/** The side effect ran now. */
export interface ExecutedOutcome<Result> {
  status: "executed";
  /** The step's idempotency key; `""` without an index (dev mode). */
  idempotencyKey: string;
  result: Result;
  /** Attempts it took, from 1. */
  attempts: number;
}

/** The side effect had already completed and did not run again. */
export interface DeduplicatedOutcome<Result> {
  status: "deduplicated";
  idempotencyKey: string;
  result: JsonSafe<Result>;
}

/** The side effect happened (a reconcile hook or an operator said so); its result is unknown. */
export interface ReconciledOutcome {
  status: "reconciled";
  idempotencyKey: string;
  result: undefined;
}

/** A read step ran. */
export interface ReadOutcome<Result> {
  status: "read";
  idempotencyKey: "";
  result: Result;
  attempts: number;
}

/** Only a `dry_run` record was written. */
export interface DryRunOutcome {
  status: "dry_run";
  idempotencyKey: string;
  result: undefined;
}

/** What `executeSettled()` resolves with: never a rejection. */
export type StepSettlement<Result = unknown> =
  | { ok: true; outcome: StepOutcome<Result> }
  | {
      ok: false;
      /** What `execute()` would have thrown, unchanged. */
      error: unknown;
      /** True when the key is now failed for good (see `isTerminalFailure`). */
      terminal: boolean;
    };

/** Who said a step whose outcome was unknown had happened. */
export type ReconciledBy = "hook" | "operator";

/**
 * The result recorded for a step that was reconciled instead of run: a hook
 * or an operator knows that it happened, not what it returned.
 */
export interface ReconciledMarker {
  $reconciled: "done";
  by: ReconciledBy;
  /** Why an operator said so (`keys resolve … done --reason`), when they said. */
  reason?: string;
}

/** @returns the result recorded for a reconciled step. */
export function reconciledMarker(by: ReconciledBy, reason?: string): ReconciledMarker {
  return reason === undefined ? { $reconciled: "done", by } : { $reconciled: "done", by, reason };
}

/**
 * Tells whether a recorded result is a {@link ReconciledMarker} (or the
 * `{ reconciled: "done" }` that earlier versions recorded).
 */
export function isReconciledMarker(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && record.reconciled === "done") return true;
  const withReason = keys.length === 3 && typeof record.reason === "string";
  return (
    (keys.length === 2 || withReason) &&
    record.$reconciled === "done" &&
    (record.by === "hook" || record.by === "operator")
  );
}
