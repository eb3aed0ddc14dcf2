import type { CircuitBreakerGroup } from "@beauvoir/breaker";
import type { Clock, Logger } from "@beauvoir/core";
import type { BeauvoirLogger, SecretRedactor } from "@beauvoir/redactor";
import type { BootConfig, BootContext, BootInitializers } from "./boot-config.js";
import type { BootResultBase, DegradableService } from "./boot-result.js";
import type {
  AuditTrailPort,
  IdempotencyIndexPort,
  LockManagerPort,
  RateLimiterPort,
  RedactorPort,
  StoreFactoryPort,
  WorkflowRunStorePort,
} from "./ports.js";
import type { ToolValidator } from "./tool-validator.js";
import type { WorkflowRunState } from "./workflow-engine.js";

/** What a backend is opened with: boot's own services, built before it. */
export interface BootBackendContext {
  /** The boot config. */
  config: BootConfig;
  /** The redacting logger (step 3b). */
  logger: Logger;
  /** The redactor (step 3a), for a backend that takes boot's instead of its own. */
  redactor: RedactorPort | undefined;
  clock: Clock;
}

/**
 * The durable services a backend hands boot in place of the file ones under
 * `dataDir`. Breakers, the redactor and the logger stay boot's own.
 */
export interface BootBackendServices {
  lockManager: LockManagerPort;
  auditTrail: AuditTrailPort;
  storeFactory: StoreFactoryPort;
  idempotencyIndex: IdempotencyIndexPort;
  /** A limiter every replica shares. @default boot's in-memory limiter */
  rateLimiter?: RateLimiterPort | undefined;
  /** Where workflow runs live, with an owner each. @default documents of `storeFactory` */
  workflowRuns?: WorkflowRunStorePort<WorkflowRunState> | undefined;
  /**
   * Aborted when this replica loses its lease: the executor then aborts the
   * signals of running side effects and starts nothing more.
   */
  signal?: AbortSignal | undefined;
  /**
   * How often boot takes over the steps that replicas whose lease ended left
   * pending (and applies their strategy). @default never after boot's step 5
   */
  takeoverIntervalMs?: number | undefined;
  /** Ends this replica's part: called last at shutdown (or when boot fails after opening it). */
  close(): Promise<void>;
}

/**
 * Where boot keeps its durable state instead of the files under `dataDir`:
 * e.g. `createPostgresBackend({ pool, schema: "beauvoir" })` from
 * `@beauvoir/postgres`, which several replicas of one bot share. With a
 * backend there is no single-instance lock: replicas run side by side, each
 * with its own lease.
 */
export interface BootBackend {
  /** Shown in the health report's subsystems (`backend`) and in logs, e.g. `"postgres"`. */
  readonly name: string;
  /**
   * Boot's step 3 opens it (after the redactor and the logger): it checks
   * what it must (a schema version, a connection) and starts what it runs
   * (a lease). A failure aborts boot (P0).
   */
  open(context: BootBackendContext): Promise<BootBackendServices>;
}

/** Boot's services with a {@link BootBackend}: typed as the ports the backend fills. */
export interface BackendBootServices {
  /** The redacting logger; `child()` gives a subsystem its own prefix or fields. */
  logger: BeauvoirLogger;
  redactor: SecretRedactor;
  lockManager: LockManagerPort;
  auditTrail: AuditTrailPort;
  storeFactory: StoreFactoryPort;
  /** One circuit breaker per action (or step `breakerKey`), this replica's own. */
  circuitBreakers: CircuitBreakerGroup;
  rateLimiter: RateLimiterPort;
  idempotencyIndex: IdempotencyIndexPort;
  toolValidator: ToolValidator | undefined;
}

/** What `boot({ backend })` returns; as {@link BootResult}, `mode` decides which services are there. */
export type BackendBootResult =
  | (BootResultBase & { mode: "autonomous"; services: BackendBootServices })
  | (BootResultBase & {
      mode: "degraded";
      services: Omit<BackendBootServices, DegradableService> & {
        [Service in DegradableService]: BackendBootServices[Service] | undefined;
      };
    })
  | (BootResultBase & {
      mode: "dev";
      services: Pick<BackendBootServices, "logger"> & {
        [Service in Exclude<keyof BackendBootServices, "logger">]:
          | BackendBootServices[Service]
          | undefined;
      };
    });

/** Checks the `backend` option (boot's step 1). */
export function assertBootBackend(value: unknown): asserts value is BootBackend {
  const candidate = value as Partial<BootBackend> | null;
  if (typeof candidate !== "object" || candidate === null || typeof candidate.open !== "function") {
    throw new TypeError("backend must be an object with an open(context) method");
  }
  if (typeof candidate.name !== "string" || candidate.name.length === 0) {
    throw new TypeError("backend.name must be a non-empty string");
  }
}

/** What a backend replaces: boot's step 1 does not check these initializers' options. */
const REPLACED_BY_BACKEND = [
  "filesystem",
  "lockManager",
  "auditTrail",
  "storeFactory",
  "idempotencyIndex",
] as const;

/**
 * The context boot's step 1 checks the default initializers' options in, when
 * a backend replaces the file ones: those it replaces count as replaced.
 */
export function withBackendInitializers(context: BootContext): BootContext {
  const replaced: Partial<BootInitializers> = {};
  const never = () => {
    throw new Error("replaced by the backend");
  };
  for (const name of REPLACED_BY_BACKEND) Object.assign(replaced, { [name]: never });
  return {
    ...context,
    config: { ...context.config, initializers: { ...replaced, ...context.config.initializers } },
  };
}

/** The initializers that hand over an opened backend's services instead of building the file ones. */
export function backendInitializers(services: BootBackendServices): Partial<BootInitializers> {
  const { rateLimiter } = services;
  return {
    filesystem: async () => {},
    lockManager: () => services.lockManager,
    auditTrail: async () => ({ auditTrail: services.auditTrail, recordsLost: 0 }),
    storeFactory: () => services.storeFactory,
    idempotencyIndex: async () => services.idempotencyIndex,
    ...(rateLimiter ? { rateLimiter: () => rateLimiter } : {}),
  };
}

/**
 * Runs `takeOver` every `intervalMs` (one run at a time, never overlapping):
 * boot's periodic takeover of what dead replicas left pending.
 */
export class PeriodicTakeover {
  readonly #takeOver: () => Promise<unknown>;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #timer: ReturnType<Clock["setTimeout"]> | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  /**
   * @param takeOver - one round (the executor's `reconcilePending`).
   * @param intervalMs - between the end of a round and the next.
   * @param clock - for the timer.
   * @param logger - a failed round is logged, and the next one tries again.
   */
  constructor(takeOver: () => Promise<unknown>, intervalMs: number, clock: Clock, logger: Logger) {
    if (typeof intervalMs !== "number" || !(intervalMs > 0) || !Number.isFinite(intervalMs)) {
      throw new RangeError(`takeoverIntervalMs must be a positive number, got ${intervalMs}`);
    }
    this.#takeOver = takeOver;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Schedules the first round. */
  start(): void {
    this.#schedule();
  }

  /** Cancels the next round and waits for one that is running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#round().finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, this.#intervalMs);
    this.#timer.unref?.();
  }

  async #round(): Promise<void> {
    try {
      await this.#takeOver();
    } catch (error) {
      this.#logger.warn("backend: taking over steps of stopped replicas failed; trying again", {
        error,
      });
    }
  }
}
