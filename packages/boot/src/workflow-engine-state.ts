import { isDeepStrictEqual } from "node:util";
import type { RedactorPort } from "./ports.js";

/** The store (under `{dataDir}/stores`) listing the unfinished runs. */
export const ACTIVE_RUNS_STORE = "workflow-runs";

/**
 * The store name of one run's state.
 * @param runId - the run (a safe file name).
 * @returns `workflow-run.<runId>`.
 */
export function runStoreName(runId: string): string {
  return `workflow-run.${runId}`;
}

/**
 * A step's idempotency key, saved in the run's state before its first
 * attempt when the redacted state would derive another key (its identity
 * holds a secret): the run resumed after a restart keeps the key it claimed.
 */
export interface PinnedStepKey {
  /** The step's name in its workflow. */
  step: string;
  /** The key its first attempt claimed. */
  idempotencyKey: string;
}

/** The parts of a step's identity its key is derived from. */
export interface KeyedIdentity {
  scope: string;
  resource: string;
  params: Record<string, unknown>;
}

/** What {@link keyToPin} needs. */
export interface PinRequest {
  action: string;
  /** The identity from the run's state as this process has it (unredacted). */
  identity: KeyedIdentity;
  /**
   * The identity a resumed run would derive from the state on disk
   * (redacted); `undefined` when deriving it threw.
   */
  identityAfterResume: KeyedIdentity | undefined;
  generateKey: (action: string, scope: string, resource: string, params: unknown) => string;
}

/**
 * Run state is written redacted, so a run resumed after a restart sees its
 * input and earlier outputs with their secrets replaced. A step whose
 * identity is derived from a secret would then derive another idempotency
 * key and run its side effect a second time. This tells when that is so:
 * the key derived now, to be saved in the run's state before the step's
 * first attempt and used for every later one; `undefined` when the state on
 * disk derives the same key (the usual case: nothing to save).
 * @param request - the step's two identities and the key derivation.
 * @returns the key to pin, or `undefined`.
 */
export function keyToPin(request: PinRequest): string | undefined {
  const { action, identity, identityAfterResume, generateKey } = request;
  const key = generateKey(action, identity.scope, identity.resource, identity.params);
  if (identityAfterResume && isDeepStrictEqual(identityAfterResume, identity)) return undefined;
  if (identityAfterResume) {
    try {
      const resumedKey = generateKey(
        action,
        identityAfterResume.scope,
        identityAfterResume.resource,
        identityAfterResume.params,
      );
      if (resumedKey === key) return undefined;
    } catch {
      // Not derivable from the redacted state: pin.
    }
  }
  return key;
}

/** What a step's `identify()` is given: the run's input and earlier outputs, among others. */
export interface IdentityContext {
  input: unknown;
  outputs: Readonly<Record<string, unknown>>;
}

/**
 * The identity a run resumed by another process would derive: `identify()`
 * given the input and outputs as they are written (redacted).
 * @param redactor - the redactor of the run stores.
 * @param context - the step's context in this process.
 * @param identify - the step's `identify()`.
 * @returns the identity, or `undefined` when `identify()` throws on the redacted state.
 */
export function resumedIdentity<Context extends IdentityContext>(
  redactor: RedactorPort,
  context: Context,
  identify: (context: Context) => KeyedIdentity,
): KeyedIdentity | undefined {
  const written = redactor.redactAny({
    input: context.input,
    outputs: context.outputs,
  }) as IdentityContext;
  try {
    const { scope, resource, params } = identify({
      ...context,
      input: written.input,
      outputs: written.outputs,
    });
    return { scope, resource, params };
  } catch {
    return undefined;
  }
}
