import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";

/** Error codes thrown by `@beauvoir/postgres`. */
export type PostgresErrorCode =
  | "SCHEMA_MISSING"
  | "SCHEMA_OUTDATED"
  | "SCHEMA_TOO_NEW"
  | "SESSION_TIMEOUTS_UNSET"
  | "DATABASE_UNAVAILABLE"
  | "LEASE_LOST"
  | "LOCK_HELD"
  | "LOCK_LOST"
  | "FENCE_STALE"
  | "STORE_CONFLICT"
  | "CHECKPOINT_INVALID";

/** Why a schema cannot be used by this version of the package. */
export type SchemaProblem = "missing" | "outdated" | "too_new";

const SCHEMA_CODES = {
  missing: "SCHEMA_MISSING",
  outdated: "SCHEMA_OUTDATED",
  too_new: "SCHEMA_TOO_NEW",
} as const;

/**
 * The database schema is not one this version of the package can run on: it is
 * missing, older than the code (run `migrate`), or newer than the code and
 * marked incompatible with it (upgrade the package). Nothing was written.
 *
 * @example
 * ```ts
 * try {
 *   await backend.start();
 * } catch (error) {
 *   if (SchemaVersionError.isInstance(error) && error.problem !== "too_new") await migrate({ pool, schema });
 * }
 * ```
 */
export class SchemaVersionError extends BeauvoirError<
  "SCHEMA_MISSING" | "SCHEMA_OUTDATED" | "SCHEMA_TOO_NEW"
> {
  /** What is wrong with the schema. */
  readonly problem: SchemaProblem;
  /** The schema (PostgreSQL namespace) that was checked. */
  readonly schema: string;
  /** The version found in the database; `null` when there is none. */
  readonly foundVersion: number | null;
  /** The version this package is written for. */
  readonly expectedVersion: number;

  /**
   * @param problem - missing, outdated or too new.
   * @param schema - the schema checked.
   * @param foundVersion - what the database says, or `null`.
   * @param expectedVersion - what the code needs.
   * @param detail - extra explanation appended to the message.
   */
  constructor(
    problem: SchemaProblem,
    schema: string,
    foundVersion: number | null,
    expectedVersion: number,
    detail = "",
  ) {
    const messages: Record<SchemaProblem, string> = {
      missing: `Schema "${schema}" has no Beauvoir tables; run migrate() or \`beauvoir-postgres migrate\` first`,
      outdated: `Schema "${schema}" is at version ${foundVersion}, this package needs ${expectedVersion}; run migrate() or \`beauvoir-postgres migrate\``,
      too_new: `Schema "${schema}" is at version ${foundVersion}, newer than this package (${expectedVersion}) can run on; upgrade @beauvoir/postgres`,
    };
    super(SCHEMA_CODES[problem], detail ? `${messages[problem]} (${detail})` : messages[problem]);
    this.problem = problem;
    this.schema = schema;
    this.foundVersion = foundVersion;
    this.expectedVersion = expectedVersion;
  }

  /** @returns true for a {@link SchemaVersionError} of any of its three codes, from any copy of the package. */
  static override isInstance(value: unknown): value is SchemaVersionError {
    return Object.values(SCHEMA_CODES).some((code) => isBeauvoirErrorWithCode(value, code));
  }
}

/**
 * The connections of the pool do not bound how long a statement, a lock wait or
 * an idle transaction may last, so one stuck session could hang a step. Create
 * the pool with {@link postgresSessionSettings} (or set the values on the role).
 */
export class SessionSettingsError extends BeauvoirError<"SESSION_TIMEOUTS_UNSET"> {
  /** The settings that are `0` (disabled) on the pool's connections. */
  readonly unset: readonly string[];

  /** @param unset - the names of the settings that are disabled. */
  constructor(unset: readonly string[]) {
    super(
      "SESSION_TIMEOUTS_UNSET",
      `The pool's sessions have no ${unset.join(", ")}; create the pool with postgresSessionSettings() or set them on the database role`,
    );
    this.unset = unset;
  }

  /** @returns true for a {@link SessionSettingsError} from any copy of the package. */
  static override isInstance(value: unknown): value is SessionSettingsError {
    return isBeauvoirErrorWithCode(value, "SESSION_TIMEOUTS_UNSET");
  }
}

/**
 * A statement could not be confirmed within the retry budget: the database was
 * unreachable, restarting, or the replies were lost. Every statement this
 * package sends is idempotent, so calling the same operation again (with the
 * same attempt id) later resolves its outcome exactly; until then it is unknown.
 */
export class DatabaseUnavailableError extends BeauvoirError<"DATABASE_UNAVAILABLE"> {
  /** The operation that was being sent, e.g. `idempotency.settle`. */
  readonly operation: string;
  /** How many times it was sent. */
  readonly attempts: number;

  /**
   * @param operation - the operation's name.
   * @param attempts - how many sends were made.
   * @param cause - the last failure.
   */
  constructor(operation: string, attempts: number, cause: unknown) {
    super(
      "DATABASE_UNAVAILABLE",
      `${operation} was not confirmed after ${attempts} attempt(s): ${describeCause(cause)}`,
      { cause },
    );
    this.operation = operation;
    this.attempts = attempts;
  }

  /** @returns true for a {@link DatabaseUnavailableError} from any copy of the package. */
  static override isInstance(value: unknown): value is DatabaseUnavailableError {
    return isBeauvoirErrorWithCode(value, "DATABASE_UNAVAILABLE");
  }
}

/** Why an instance no longer holds its lease. */
export type LeaseLostReason = "not_registered" | "expired" | "renewal_failed" | "stopped";

/**
 * The instance's lease is gone (or was never taken): it could not renew before
 * its local deadline, the database says it expired, or it was stopped. It no
 * longer claims keys or locks, and the signal its in-flight steps hang off is
 * aborted with this error. Register a new instance to go on.
 */
export class LeaseLostError extends BeauvoirError<"LEASE_LOST"> {
  /** The instance whose lease is gone. */
  readonly instanceId: string;
  /** Why. */
  readonly reason: LeaseLostReason;

  /**
   * @param instanceId - the instance.
   * @param reason - why the lease is gone.
   * @param cause - the failure behind it, if any.
   */
  constructor(instanceId: string, reason: LeaseLostReason, cause?: unknown) {
    const messages: Record<LeaseLostReason, string> = {
      not_registered: "is not registered yet; call start() first",
      expired: "has an expired lease; its keys may be taken over by a live replica",
      renewal_failed: "could not renew its lease before its local deadline",
      stopped: "was stopped",
    };
    super(
      "LEASE_LOST",
      `Instance ${instanceId} ${messages[reason]}`,
      cause === undefined ? {} : { cause },
    );
    this.instanceId = instanceId;
    this.reason = reason;
  }

  /** @returns true for a {@link LeaseLostError} from any copy of the package. */
  static override isInstance(value: unknown): value is LeaseLostError {
    return isBeauvoirErrorWithCode(value, "LEASE_LOST");
  }
}

/** Another holder has the lock and its lease has not expired (on the database clock). */
export class LockHeldError extends BeauvoirError<"LOCK_HELD"> {
  /** The lock's name. */
  readonly lockName: string;
  /** The instance holding it. */
  readonly holderInstanceId: string;
  /** When the holder's lease on it ends (database clock), unless renewed. */
  readonly expiresAt: Date;

  /**
   * @param lockName - the lock.
   * @param holderInstanceId - the instance holding it.
   * @param expiresAt - when its lease ends.
   */
  constructor(lockName: string, holderInstanceId: string, expiresAt: Date) {
    super(
      "LOCK_HELD",
      `Lock "${lockName}" is held by instance ${holderInstanceId} until ${expiresAt.toISOString()}`,
    );
    this.lockName = lockName;
    this.holderInstanceId = holderInstanceId;
    this.expiresAt = expiresAt;
  }

  /** @returns true for a {@link LockHeldError} from any copy of the package. */
  static override isInstance(value: unknown): value is LockHeldError {
    return isBeauvoirErrorWithCode(value, "LOCK_HELD");
  }
}

/**
 * A held lock could not be renewed: its lease ran out (on the database clock,
 * or locally before a renewal was confirmed) and it may now be held by someone
 * else with a higher fence. The handle's signal is aborted with this error.
 */
export class LockLostError extends BeauvoirError<"LOCK_LOST"> {
  /** The lock's name. */
  readonly lockName: string;
  /** The fence of the grant that was lost. */
  readonly fence: number;

  /**
   * @param lockName - the lock.
   * @param fence - the lost grant's fence.
   * @param cause - the failure behind it, if any.
   */
  constructor(lockName: string, fence: number, cause?: unknown) {
    super(
      "LOCK_LOST",
      `Lock "${lockName}" (fence ${fence}) was lost: its lease could not be renewed in time`,
      cause === undefined ? {} : { cause },
    );
    this.lockName = lockName;
    this.fence = fence;
  }

  /** @returns true for a {@link LockLostError} from any copy of the package. */
  static override isInstance(value: unknown): value is LockLostError {
    return isBeauvoirErrorWithCode(value, "LOCK_LOST");
  }
}

/**
 * A write carried a fencing token lower than one the resource has already seen:
 * a newer holder of the lock has written since, so this write was refused and
 * changed nothing.
 */
export class StaleFenceError extends BeauvoirError<"FENCE_STALE"> {
  /** The fenced resource. */
  readonly resource: string;
  /** The token the write carried. */
  readonly fence: number;
  /** The highest token the resource has seen. */
  readonly highestSeen: number;

  /**
   * @param resource - the fenced resource.
   * @param fence - the refused token.
   * @param highestSeen - the highest token seen.
   */
  constructor(resource: string, fence: number, highestSeen: number) {
    super(
      "FENCE_STALE",
      `Write to "${resource}" with fence ${fence} refused: fence ${highestSeen} was already seen`,
    );
    this.resource = resource;
    this.fence = fence;
    this.highestSeen = highestSeen;
  }

  /** @returns true for a {@link StaleFenceError} from any copy of the package. */
  static override isInstance(value: unknown): value is StaleFenceError {
    return isBeauvoirErrorWithCode(value, "FENCE_STALE");
  }
}

/**
 * A store write expected a write epoch that is no longer current: another
 * replica wrote first. Nothing was written; read again, merge, and retry.
 */
export class StoreConflictError extends BeauvoirError<"STORE_CONFLICT"> {
  /** The store's name. */
  readonly storeName: string;
  /** The epoch the write was based on. */
  readonly expectedEpoch: number;
  /** The epoch in the database; `0` when the document does not exist. */
  readonly actualEpoch: number;

  /**
   * @param storeName - the store.
   * @param expectedEpoch - what the writer read.
   * @param actualEpoch - what is there now.
   */
  constructor(storeName: string, expectedEpoch: number, actualEpoch: number) {
    super(
      "STORE_CONFLICT",
      `Store "${storeName}" is at write epoch ${actualEpoch}, not ${expectedEpoch}: another replica wrote first`,
    );
    this.storeName = storeName;
    this.expectedEpoch = expectedEpoch;
    this.actualEpoch = actualEpoch;
  }

  /** @returns true for a {@link StoreConflictError} from any copy of the package. */
  static override isInstance(value: unknown): value is StoreConflictError {
    return isBeauvoirErrorWithCode(value, "STORE_CONFLICT");
  }
}

/** Why a checkpoint was refused. */
export type CheckpointProblem =
  | "malformed"
  | "unsigned"
  | "bad_signature"
  | "root_mismatch"
  | "history_too_short";

/**
 * A signed audit checkpoint does not hold: the note is malformed or not signed
 * by the expected key, or the history it is checked against does not have the
 * root it states (the history was rewritten, or is shorter than the checkpoint).
 */
export class CheckpointError extends BeauvoirError<"CHECKPOINT_INVALID"> {
  /** What is wrong. */
  readonly problem: CheckpointProblem;

  /**
   * @param problem - what is wrong.
   * @param detail - the explanation.
   */
  constructor(problem: CheckpointProblem, detail: string) {
    super("CHECKPOINT_INVALID", `Audit checkpoint refused (${problem}): ${detail}`);
    this.problem = problem;
  }

  /** @returns true for a {@link CheckpointError} from any copy of the package. */
  static override isInstance(value: unknown): value is CheckpointError {
    return isBeauvoirErrorWithCode(value, "CHECKPOINT_INVALID");
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message || cause.name;
  return String(cause);
}
