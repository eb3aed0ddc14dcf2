import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditRedactor, type ChainVerification, verifyAuditFile } from "@beauvoir/audit-trail";
import type {
  BootBackend,
  BootBackendContext,
  BootBackendServices,
  WorkflowRunState,
} from "@beauvoir/boot";
import { SecretRedactor } from "@beauvoir/redactor";
import { AuditContent } from "./audit-content.js";
import { exportAuditHistory } from "./audit-export.js";
import {
  type AuditCheckpointOptions,
  AuditSealer,
  type AuditSealerOptions,
} from "./audit-sealer.js";
import { PostgresAuditTrail } from "./audit-trail.js";
import { PostgresAuditPort } from "./boot-audit-port.js";
import { PostgresIndexPort } from "./boot-index-port.js";
import { type ConnectionOptions, createStatementRunner, positive } from "./connection-options.js";
import { advanceFence } from "./fence-marks.js";
import { PostgresIdempotencyIndex, type PostgresIdempotencyOptions } from "./idempotency-index.js";
import { createKeyGenerator, type KeyRedactor } from "./idempotency-key.js";
import { InstanceLease, type InstanceLeaseOptions } from "./instance-lease.js";
import { PostgresStoreFactory } from "./json-store.js";
import { PostgresLockManager, type PostgresLockManagerOptions } from "./lock-manager.js";
import type { PoolLike, Queryable, QueryConfigLike } from "./queryable.js";
import { PostgresRateLimiter, type PostgresRateLimiterOptions } from "./rate-limiter.js";
import { quoteSchemaName } from "./schema-name.js";
import { assertSchemaUsable, readSchemaState } from "./schema-version.js";
import { verifySessionSettings } from "./session-settings.js";
import type { StatementRunner } from "./statement-runner.js";
import { PostgresWorkflowRuns } from "./workflow-runs.js";

/** Options of {@link createPostgresBackend}. */
export interface PostgresBackendOptions extends ConnectionOptions {
  /** The caller's pool (`pg.Pool`), ideally made with `postgresSessionSettings()`. */
  pool: PoolLike;
  /** The schema holding Beauvoir's tables (see `migrate`). @default "beauvoir" */
  schema?: string | undefined;
  /** This replica's lease. */
  instance?: InstanceLeaseOptions | undefined;
  /** Lock defaults. */
  locks?: PostgresLockManagerOptions | undefined;
  /** Key TTL, compensation table, key rule. */
  idempotency?: PostgresIdempotencyOptions | undefined;
  /** The audit sealer; `enabled: false` leaves sealing to other replicas. */
  sealer?:
    | (Omit<AuditSealerOptions, "hmacKey" | "checkpoints"> & { enabled?: boolean })
    | undefined;
  /** Signs every sealed audit record with HMAC-SHA256 (a string is used as UTF-8). Give every replica the same key. */
  hmacKey?: string | Uint8Array | undefined;
  /** Signed Merkle checkpoints of the audit history, kept outside the database by `onCheckpoint`. */
  checkpoints?: AuditCheckpointOptions | undefined;
  /** Removes secrets from audit params, results, errors and from keys. @default new SecretRedactor() */
  redactor?: (AuditRedactor & KeyRedactor) | undefined;
  /**
   * Refuse to start when the pool's sessions have no statement, lock or
   * idle-in-transaction timeout (`SESSION_TIMEOUTS_UNSET`).
   * @default true
   */
  requireSessionTimeouts?: boolean | undefined;
  /**
   * The rate limiter boot uses (`boot({ backend })`): shared by every replica
   * with the same `scope`, its buckets `boot`'s `rateLimiter` options (or
   * these); `false` keeps boot's in-memory limiter, each replica its own.
   * @default { scope: "default" }
   */
  rateLimiter?:
    | (Partial<PostgresRateLimiterOptions> & { scope?: string | undefined })
    | false
    | undefined;
  /**
   * How often a booted replica takes over the steps that replicas whose lease
   * ended left pending (and applies their strategy).
   * @default the instance's ttlMs
   */
  takeoverIntervalMs?: number | undefined;
}

/**
 * Beauvoir's services on PostgreSQL for one replica: its {@link InstanceLease},
 * fenced {@link PostgresLockManager} locks, the {@link PostgresIdempotencyIndex}
 * of durable steps, the shared {@link PostgresAuditTrail} and its
 * {@link AuditSealer}, compare-and-set stores and shared rate limiters. Made by
 * {@link createPostgresBackend}; nothing touches the database before `start()`.
 */
export class PostgresBackend implements BootBackend {
  /** `"postgres"`, for boot's health report. */
  readonly name = "postgres";
  /** The schema's name (unquoted). */
  readonly schema: string;
  /** This replica's lease; its `signal` aborts when the lease is lost. */
  readonly instance: InstanceLease;
  readonly locks: PostgresLockManager;
  readonly idempotency: PostgresIdempotencyIndex;
  readonly audit: PostgresAuditTrail;
  readonly sealer: AuditSealer;
  readonly stores: PostgresStoreFactory;
  /** Workflow runs, each owned by one replica (boot's workflow engine keeps its runs here). */
  readonly workflowRuns: PostgresWorkflowRuns<WorkflowRunState>;
  readonly #runner: StatementRunner;
  readonly #options: PostgresBackendOptions;
  readonly #redactor: { current: AuditRedactor & KeyRedactor; given: boolean };
  readonly #hmacKey: Uint8Array | undefined;
  readonly #quoted: string;
  readonly #sealerEnabled: boolean;
  readonly #requireSessionTimeouts: boolean;
  readonly #onPoolError: (error: Error) => void;
  #state: "new" | "starting" | "started" | "stopped" = "new";

  /** @internal Use {@link createPostgresBackend}. */
  constructor(options: PostgresBackendOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("options must be an object with a pool");
    }
    this.#runner = createStatementRunner(options.pool, options);
    this.#options = options;
    this.schema = options.schema ?? "beauvoir";
    this.#quoted = quoteSchemaName(this.schema);
    const given = options.redactor;
    if (
      given !== undefined &&
      (typeof given?.redactAny !== "function" || typeof given.redact !== "function")
    ) {
      throw new TypeError("redactor must have redact(text) and redactAny(value) methods");
    }
    if (options.rateLimiter !== undefined && options.rateLimiter !== false) {
      if (typeof options.rateLimiter !== "object" || options.rateLimiter === null) {
        throw new TypeError("rateLimiter must be an object or false");
      }
    }
    if (options.takeoverIntervalMs !== undefined) {
      positive(options.takeoverIntervalMs, "takeoverIntervalMs");
    }
    // Until boot hands over its own redactor, the default one; one the caller gave stays.
    this.#redactor = { current: given ?? new SecretRedactor(), given: given !== undefined };
    const redactor: AuditRedactor & KeyRedactor = {
      redact: (text) => this.#redactor.current.redact(text),
      redactAny: (value) => this.#redactor.current.redactAny(value),
    };
    const content = new AuditContent(redactor);
    this.instance = new InstanceLease(this.#runner, this.#quoted, options.instance);
    this.locks = new PostgresLockManager(this.#runner, this.#quoted, this.instance, options.locks);
    this.idempotency = new PostgresIdempotencyIndex(
      this.#runner,
      this.#quoted,
      this.instance,
      content,
      {
        ...options.idempotency,
        generateKey: options.idempotency?.generateKey ?? createKeyGenerator(redactor),
      },
    );
    this.audit = new PostgresAuditTrail(this.#runner, this.#quoted, this.instance.id, content);
    const { enabled = true, ...sealer } = options.sealer ?? {};
    this.#sealerEnabled = enabled;
    this.#hmacKey = toKeyBytes(options.hmacKey);
    this.sealer = new AuditSealer(this.#runner, this.#quoted, this.locks, {
      ...sealer,
      hmacKey: this.#hmacKey,
      ...(options.checkpoints === undefined ? {} : { checkpoints: options.checkpoints }),
    });
    this.stores = new PostgresStoreFactory(this.#runner, this.#quoted, this.instance.id);
    this.workflowRuns = new PostgresWorkflowRuns(this.#runner, this.#quoted, this.instance);
    this.#requireSessionTimeouts = options.requireSessionTimeouts ?? true;
    this.#onPoolError = (error) =>
      this.#runner.settings.logger.warn("An idle PostgreSQL connection failed", { error });
  }

  /** Aborted when this replica's lease is lost or it stops. */
  get signal(): AbortSignal {
    return this.instance.signal;
  }

  /**
   * Checks the sessions and the schema (verify only: it never migrates), then
   * registers the instance and starts the heartbeat and the sealer.
   * @throws {@link SessionSettingsError}, {@link SchemaVersionError}, {@link DatabaseUnavailableError}.
   * @example
   * ```ts
   * const backend = createPostgresBackend({ pool, schema: "beauvoir" });
   * await backend.start();
   * ```
   */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new TypeError("start() may be called once");
    this.#state = "starting";
    const { pool, settings } = this.#runner;
    pool.on?.("error", this.#onPoolError);
    try {
      const checks: Queryable = {
        query: <Row>(config: QueryConfigLike) =>
          this.#runner.run<Row>("backend.start", config.text, config.values ?? []),
      };
      if (this.#requireSessionTimeouts) {
        await verifySessionSettings(checks, settings.queryTimeoutMs);
      }
      const state = await readSchemaState(checks, this.schema, settings.queryTimeoutMs);
      assertSchemaUsable(state, this.schema);
      await this.instance.register();
    } catch (error) {
      pool.removeListener?.("error", this.#onPoolError);
      this.#state = "stopped";
      await this.instance.stop();
      throw error;
    }
    if (this.#sealerEnabled) this.sealer.start();
    this.#state = "started";
  }

  /**
   * Stops the sealer, releases this replica's locks and ends its lease at once
   * (so live replicas may take over what it left pending). Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    // Best effort on the way out: what cannot be released in two sends runs out by itself.
    await this.sealer.stop();
    await this.locks.releaseAll({ maxAttempts: 2 });
    await this.instance.stop();
    this.#runner.pool.removeListener?.("error", this.#onPoolError);
  }

  /**
   * Boot's step 3 (`boot({ backend })`): starts this backend (verifies the
   * schema, registers the lease, starts the sealer) and hands boot its
   * services: fenced locks, the shared audit history, compare-and-set stores,
   * the key table as a two-statement durable step, the shared rate limiter,
   * workflow runs with owners, the lease signal and the takeover interval.
   * Boot's redactor and logger are used unless the options named others.
   * @param context - boot's config, logger, redactor and clock.
   * @returns what boot uses in place of the files under `dataDir`.
   * @throws as {@link PostgresBackend.start}.
   */
  async open(context: BootBackendContext): Promise<BootBackendServices> {
    const bootRedactor = context.redactor as Partial<AuditRedactor & KeyRedactor> | undefined;
    if (
      !this.#redactor.given &&
      typeof bootRedactor?.redact === "function" &&
      typeof bootRedactor.redactAny === "function"
    ) {
      this.#redactor.current = bootRedactor as AuditRedactor & KeyRedactor;
    }
    if (this.#options.logger === undefined) this.#runner.settings.logger = context.logger;
    if (this.#state === "new") await this.start();
    const limiterOptions = this.#options.rateLimiter;
    const fromBoot = context.config.rateLimiter;
    const rateLimiter =
      limiterOptions === false
        ? undefined
        : this.createRateLimiter({
            ...(fromBoot?.global === undefined ? {} : { global: fromBoot.global }),
            ...(fromBoot?.perWorkflow === undefined ? {} : { perWorkflow: fromBoot.perWorkflow }),
            ...(fromBoot?.secondaryDefaultWaitMs === undefined
              ? {}
              : { secondaryDefaultWaitMs: fromBoot.secondaryDefaultWaitMs }),
            ...(fromBoot?.maxBlockMs === undefined ? {} : { maxBlockMs: fromBoot.maxBlockMs }),
            ...limiterOptions,
            scope: limiterOptions?.scope ?? "default",
          });
    return {
      lockManager: this.locks,
      auditTrail: new PostgresAuditPort(this.audit, () => this.verifyAuditHistory()),
      storeFactory: this.stores,
      idempotencyIndex: new PostgresIndexPort(this.idempotency, this.audit, this.instance),
      rateLimiter,
      workflowRuns: this.workflowRuns,
      signal: this.signal,
      takeoverIntervalMs: this.#options.takeoverIntervalMs ?? this.instance.ttlMs,
      close: () => this.stop(),
    };
  }

  /**
   * Seals what was written so far, exports the sealed history to a temporary
   * file and verifies it as `verifyAuditFile` (and `beauvoir-audit verify`)
   * do, with this backend's HMAC key.
   * @returns the verification (`valid`, `records`, …).
   */
  async verifyAuditHistory(): Promise<ChainVerification> {
    await this.sealer.sealPending();
    const directory = await mkdtemp(join(tmpdir(), "beauvoir-pg-verify-"));
    try {
      const path = join(directory, "audit.jsonl");
      await exportAuditHistory({ pool: this.#runner.pool, schema: this.schema, path });
      return await verifyAuditFile(path, {
        ...(this.#hmacKey === undefined ? {} : { hmacKey: this.#hmacKey }),
      });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }

  /**
   * A limiter whose buckets and blocks every replica with the same `scope` shares.
   * @param options - scope (the API token's identity), buckets, waits.
   */
  createRateLimiter(options: PostgresRateLimiterOptions): PostgresRateLimiter {
    return new PostgresRateLimiter(this.#runner, this.#quoted, this.instance.id, options);
  }

  /**
   * Records `fence` as the highest token seen for `resource` (Beauvoir's own
   * `fence_marks` table), refusing a lower one: call it, in order, before a
   * write the lock protects outside the database.
   * @throws {@link StaleFenceError} when a higher fence was seen.
   */
  advanceFence(resource: string, fence: number): Promise<void> {
    return advanceFence(this.#runner, this.#quoted, resource, fence);
  }
}

/**
 * Makes the PostgreSQL backend for one replica. Nothing is sent before
 * `start()`, which verifies the schema and refuses to run on a missing, older
 * or incompatible one: apply migrations with `migrate()` or
 * `beauvoir-postgres migrate` first.
 * @param options - pool, schema, lease, keys, sealer, key, redactor, timeouts.
 * @returns the backend.
 * @throws TypeError or RangeError naming a bad option.
 * @example
 * ```ts
 * import pg from "pg";
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, ...postgresSessionSettings() });
 * await migrate({ pool, schema: "beauvoir" });
 * const backend = createPostgresBackend({ pool, schema: "beauvoir" });
 * await backend.start();
 * ```
 */
export function createPostgresBackend(options: PostgresBackendOptions): PostgresBackend {
  return new PostgresBackend(options);
}

function toKeyBytes(key: string | Uint8Array | undefined): Uint8Array | undefined {
  if (key === undefined) return undefined;
  let bytes: Uint8Array;
  if (typeof key === "string") bytes = Buffer.from(key, "utf8");
  else if (key instanceof Uint8Array) bytes = Uint8Array.from(key);
  else throw new TypeError("hmacKey must be a string or a Uint8Array");
  if (bytes.length === 0) throw new RangeError("hmacKey must not be empty");
  return bytes;
}
