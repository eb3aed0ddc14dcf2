import { AtomicKeyLedger } from "./atomic-key-ledger.js";
import { runAttempts } from "./attempt-loop.js";
import { checkKey, recordedOutcome } from "./dedup-check.js";
import { DegradedModeError, StepFailedError, StepInDoubtError } from "./errors.js";
import { type ExecutorContext, strategyOf } from "./executor-context.js";
import { toJsonSafe } from "./json-safe.js";
import { KeyLedger, type StepLedger } from "./key-ledger.js";
import { enforceActionPolicy, recordDryRun } from "./policy-gate.js";
import type { CompensationStrategy, IdempotencyClaim, IdempotencyIndexPort } from "./ports.js";
import { intentParams, targetOf } from "./step-identity.js";
import type { StepOutcome } from "./step-outcome.js";
import type { StepRequest } from "./step-request.js";
import { advanceOf } from "./workflow-advance.js";

/**
 * Executes one validated step: the action policy, the degraded-mode gate,
 * then, for a write with an index, the dedup check and the attempts under
 * its idempotency key (a second call with a key that runs here waits for the
 * first and shares its outcome); reads, and writes without an index (dev
 * mode), run their attempts with no key.
 * @param context - the executor's services and settings.
 * @param inFlightByKey - the keyed steps running in this executor, by key;
 *   the step adds itself while it runs.
 * @param request - the step.
 * @param failure - set to terminal when the step failed for good.
 * @returns how the step ended.
 * @throws as `DurableStepExecutor.execute`.
 */
export async function executeStep<Result>(
  context: ExecutorContext,
  inFlightByKey: Map<string, Promise<StepOutcome<unknown>>>,
  request: StepRequest<Result>,
  failure: { terminal: boolean },
): Promise<StepOutcome<Result>> {
  const kind = request.kind ?? "write";
  await enforceActionPolicy(context, request as StepRequest<unknown>, kind);
  const strategy = strategyOf(context, request.action, request.strategy);
  // Reads, and writes without an index (dev mode): no key; the audit trail
  // (if any) still sees every attempt of a write.
  const unkeyed = () =>
    runAttempts(context, {
      request,
      kind,
      ledger: ledgerFor(context, request, "", strategy, kind === "write"),
      key: "",
      strategy,
      failure,
      onLostClaim: lost,
    });
  if (kind === "read") return unkeyed();
  if (context.mode === "degraded") {
    throw new DegradedModeError(request.action, context.failedSubsystems);
  }
  const index = context.index;
  if (!index) {
    return (request.dryRun ?? context.dryRun) ? dryRunOutcome(context, request, "") : unkeyed();
  }
  const key =
    request.idempotencyKey ??
    index.generateKey(request.action, request.scope, request.resource, request.params);
  const running = inFlightByKey.get(key);
  if (running) return sharedOutcome(key, (await running) as StepOutcome<Result>);
  const promise = executeKeyed(context, request, index, key, strategy, failure);
  inFlightByKey.set(key, promise as Promise<StepOutcome<unknown>>);
  try {
    return await promise;
  } finally {
    inFlightByKey.delete(key);
  }
}

async function executeKeyed<Result>(
  context: ExecutorContext,
  request: StepRequest<Result>,
  index: IdempotencyIndexPort,
  key: string,
  strategy: CompensationStrategy,
  failure: { terminal: boolean },
): Promise<StepOutcome<Result>> {
  if (request.dryRun ?? context.dryRun) {
    // A dry run only reads the index: it reports a completed step as such, and writes nothing else.
    const entry = await index.check(key);
    if (entry?.status === "completed") return recordedOutcome<Result>(context, entry);
    if (entry?.status === "failed") throw new StepFailedError(key, entry.error ?? "unknown error");
    return dryRunOutcome(context, request, key);
  }
  for (;;) {
    const check = await checkKey<Result>(context, index, {
      key,
      action: request.action,
      strategy,
      signal: request.signal,
      maxWaitMs: request.maxWaitMs ?? context.maxWaitMs,
    });
    if (!check.run) return check.outcome;
    const ledger = ledgerFor(context, request, key, strategy, true, check.supersede);
    try {
      return await runAttempts(context, {
        request,
        kind: "write",
        ledger,
        key,
        strategy,
        failure,
        onLostClaim: async (claim) => {
          if (claim.reason === "completed" && claim.entry) {
            return recordedOutcome<Result>(context, claim.entry);
          }
          if (claim.reason === "failed") {
            throw new StepFailedError(key, claim.entry?.error ?? "unknown error");
          }
          // Claimed by another replica in between: look again (wait for it, or take it over).
          if (claim.entry?.ownedHere === false) throw CLAIMED_ELSEWHERE;
          throw new StepInDoubtError(key);
        },
      });
    } catch (error) {
      if (error !== CLAIMED_ELSEWHERE) throw error;
    }
  }
}

function ledgerFor<Result>(
  context: ExecutorContext,
  request: StepRequest<Result>,
  key: string,
  strategy: CompensationStrategy,
  durable: boolean,
  supersede?: { intentSeq: number | undefined; attemptId?: string | undefined },
): StepLedger {
  const subject = {
    key,
    action: request.action,
    target: targetOf(request),
    recordedParams: intentParams(request),
    strategy,
    durable,
  };
  const atomic = context.index?.atomicSteps;
  if (atomic && durable && key !== "") {
    return new AtomicKeyLedger(context, atomic, subject, supersede, advanceOf(request));
  }
  return new KeyLedger(context, subject, supersede);
}

async function dryRunOutcome<Result>(
  context: ExecutorContext,
  request: StepRequest<Result>,
  key: string,
): Promise<StepOutcome<Result>> {
  await recordDryRun(context, request as StepRequest<unknown>);
  return { status: "dry_run", idempotencyKey: key, result: undefined };
}

/** A step that shared another's run is deduplicated; its result is the recorded form. */
function sharedOutcome<Result>(key: string, outcome: StepOutcome<Result>): StepOutcome<Result> {
  if (outcome.status !== "executed") return outcome;
  return { status: "deduplicated", idempotencyKey: key, result: toJsonSafe(outcome.result) };
}

/** Thrown out of the attempt loop when another replica claimed the key first. */
const CLAIMED_ELSEWHERE = Symbol("claimed elsewhere");

/** Reads and dev-mode writes claim no key, so no claim is ever lost. */
function lost(claim: IdempotencyClaim): never {
  throw new Error(`unexpected refused claim: ${claim.reason ?? "unknown"}`);
}
