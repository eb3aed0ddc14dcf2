import type { CompensationStrategy } from "@beauvoir/idempotency";
import type { IdempotencyKeyEntry } from "./idempotency-entry.js";

/** What {@link PostgresIdempotencyIndex.claim} takes. */
export interface ClaimInput {
  /** The idempotency key. */
  key: string;
  /** The action. @default the key's text before the first `:` */
  action?: string | undefined;
  /** How a crash during the attempt is compensated. @default the compensation table's entry for the action */
  strategy?: CompensationStrategy | undefined;
  /** What the action is done to, for the intent record, e.g. `acme/app#12`. */
  target: string;
  /** The call's parameters, recorded (redacted) in the intent. */
  params: Record<string, unknown>;
  /** The attempt's id; pass the same one again to resolve a claim whose reply was lost. @default a random UUID */
  attemptId?: string | undefined;
  /** The workflow run the step belongs to. */
  runId?: string | undefined;
  /**
   * Re-runs a pending key this instance holds (after {@link PostgresIdempotencyIndex.takeOver},
   * or an attempt whose outcome was unknown): in the same statement, the held
   * attempt's intent is closed with `error` and the new attempt's intent is
   * recorded. Without it a pending key is never claimed.
   */
  supersede?: { attemptId: string; error: string } | undefined;
  /** Stops waiting (the claim may still have committed: claim again with the same attemptId). */
  signal?: AbortSignal | undefined;
}

/** What a claim found. */
export type ClaimOutcome =
  /** This call owns the key: run the side effect, then settle with `attemptId`. */
  | {
      status: "claimed";
      key: string;
      attemptId: string;
      fence: number;
      intentId: number;
      entry: IdempotencyKeyEntry;
    }
  /** Done before (within the TTL): `entry.result` is what it returned. */
  | { status: "completed"; key: string; entry: IdempotencyKeyEntry }
  /** Failed before, terminally: `entry.error` says why. */
  | { status: "failed"; key: string; entry: IdempotencyKeyEntry }
  /** Another attempt holds it; `entry.ownerLive` false means it waits for a takeover. */
  | { status: "pending"; key: string; entry: IdempotencyKeyEntry };

/** What {@link PostgresIdempotencyIndex.settle} takes. */
export interface SettleInput {
  key: string;
  /** The attempt that ran (from the claim or the takeover). */
  attemptId: string;
  /**
   * `completed`: the side effect happened; `failed`: it failed for good;
   * `released`: it certainly did not happen and the key may be claimed again.
   */
  status: "completed" | "failed" | "released";
  /** What it returned (redacted before it is stored); `undefined` for none. */
  result?: unknown | undefined;
  /** Why it failed or was released (an `Error` is stored as `name: message`, redacted). */
  error?: string | Error | undefined;
  /**
   * A workflow run to advance in the same statement: written only while this
   * instance owns it under `fence` (see `PostgresWorkflowRuns`).
   */
  workflow?: SettledWorkflowRun | undefined;
  /** Stops waiting (settle again with the same attemptId to learn the outcome). */
  signal?: AbortSignal | undefined;
}

/** The state a workflow run moves to with a step's settlement. */
export interface SettledWorkflowRun {
  runId: string;
  /** The fence of this instance's ownership of the run. */
  fence: number;
  /** The run's new state (stored as JSON text). */
  state: { status: "running" | "completed" | "failed"; nextStep: number };
}

/** What a settle did. */
export type SettleOutcome =
  /** Settled by this attempt (now, or by an earlier send whose reply was lost). */
  | {
      status: "settled";
      entry: IdempotencyKeyEntry;
      resultRecordId?: number;
      /** Whether the `workflow` run was advanced with it (false without one, or when not owned). */
      workflowAdvanced: boolean;
    }
  /** The attempt was taken over or reset: nothing was changed. */
  | { status: "superseded"; entry: IdempotencyKeyEntry | null };
