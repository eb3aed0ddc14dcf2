import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "vitest";
import type { PostgresBackend } from "../../src/backend.js";
import { DatabaseUnavailableError, LeaseLostError } from "../../src/errors.js";
import type { ClaimOutcome } from "../../src/idempotency-index.js";

/**
 * The remote side of the steps: how many times each key's side effect really
 * happened (what a GitHub-like server would count).
 */
export class RemoteEffects {
  readonly counts = new Map<string, number>();

  apply(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  happened(key: string): boolean {
    return (this.counts.get(key) ?? 0) > 0;
  }
}

/** Resends an operation whose outcome is unknown with the same ids, as the contract says. */
async function untilKnown<T>(operation: () => Promise<T>, giveUp: AbortSignal): Promise<T> {
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!DatabaseUnavailableError.isInstance(error) || giveUp.aborted) throw error;
      await sleep(20);
    }
  }
}

/**
 * A small stand-in for the executor's write path (the real one is wired in
 * phase 2): claim (statement A), the side effect, settle (statement B); every
 * unknown outcome resolved by resending with the same attempt id. A replica
 * whose lease is lost stops before the effect.
 * @returns whether this replica ran the effect.
 */
export async function runStep(
  backend: PostgresBackend,
  key: string,
  remote: RemoteEffects,
  giveUp: AbortSignal,
): Promise<"ran" | "skipped" | "lease_lost"> {
  const attemptId = crypto.randomUUID();
  let claim: ClaimOutcome;
  try {
    claim = await untilKnown(
      () => backend.idempotency.claim({ key, attemptId, target: key, params: { key } }),
      giveUp,
    );
  } catch (error) {
    if (LeaseLostError.isInstance(error)) return "lease_lost";
    throw error;
  }
  if (claim.status !== "claimed") return "skipped";
  if (backend.signal.aborted) return "lease_lost";
  remote.apply(key);
  await untilKnown(
    () => backend.idempotency.settle({ key, attemptId, status: "completed", result: { key } }),
    giveUp,
  );
  return "ran";
}

/**
 * Takeover by a live replica with the `check_then_retry` strategy: ask the
 * remote side whether the effect happened, run it only if it did not.
 */
export async function takeOverAndReconcile(
  backend: PostgresBackend,
  remote: RemoteEffects,
  giveUp: AbortSignal,
): Promise<number> {
  const takeoverId = crypto.randomUUID();
  const taken = await untilKnown(
    () => backend.idempotency.takeOver({ limit: 1_000, takeoverId }),
    giveUp,
  );
  for (const { entry } of taken) {
    if (!remote.happened(entry.key)) remote.apply(entry.key);
    const outcome = await untilKnown(
      () =>
        backend.idempotency.settle({
          key: entry.key,
          attemptId: entry.attemptId,
          status: "completed",
          result: { key: entry.key, reconciled: true },
        }),
      giveUp,
    );
    expect(outcome.status).toBe("settled");
  }
  return taken.length;
}

/** Shuffles a copy (Fisher–Yates). */
export function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = Math.floor(Math.random() * (index + 1));
    [copy[index], copy[other]] = [copy[other]!, copy[index]!];
  }
  return copy;
}
