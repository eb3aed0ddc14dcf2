import type { CompensationStrategy, DurableStepExecutor } from "@beauvoir/boot";
import type { Logger } from "@beauvoir/core";

/** What the plugin uses of what `boot()` returned. */
export interface BeauvoirApp {
  executor: Pick<DurableStepExecutor, "execute" | "registerReconcilers" | "hasReconciler">;
  services: {
    logger?: Logger | undefined;
    /** Redacts errors before they reach the caller. @default a `SecretRedactor` with its defaults */
    redactor?: { redactAny(value: unknown): unknown } | undefined;
  };
}

/** How one route is treated, replacing (or adding to) the built-in table. */
export interface RouteSettings {
  /** The action name (key prefix, audit action, breaker). @default the table's, or one derived from the route */
  action?: string | undefined;
  /** The compensation strategy of its writes. @default the table's, or `skip` */
  strategy?: CompensationStrategy | undefined;
  /** `read`: through the limiter and breaker only, never recorded. @default `read` for GET/HEAD, else `write` */
  kind?: "read" | "write" | undefined;
}

/** The plugin's options: `new MyOctokit({ auth, beauvoir: { app } })`. */
export interface BeauvoirPluginOptions {
  /** What `boot()` returned. Required. */
  app: BeauvoirApp;
  /**
   * Routes by `"METHOD /route"` (as Octokit names them, e.g.
   * `"POST /repos/{owner}/{repo}/issues/{issue_number}/reactions"`). @default {}
   */
  routes?: Readonly<Record<string, RouteSettings>> | undefined;
  /** Time limit of each attempt of a request (`Infinity`: none). @default none */
  timeoutMs?: number | undefined;
  /** The rate limiter's workflow bucket every request draws from. @default "octokit" */
  workflowId?: string | undefined;
}

/** The per-request override: `octokit.request(route, { ..., request: { beauvoir: { ... } } })`. */
export interface BeauvoirRequestOptions {
  /** This request's action (a custom name gets the route's strategy and built-in hook). */
  action?: string | undefined;
  /** Replaces the derived key, e.g. with a webhook delivery id. */
  idempotencyKey?: string | undefined;
  /** This request's compensation strategy. */
  strategy?: CompensationStrategy | undefined;
  /** This request's time limit per attempt. */
  timeoutMs?: number | undefined;
  /** Treat this request as a read or a write, whatever its method. */
  kind?: "read" | "write" | undefined;
}

/** Options after validation. */
export interface ResolvedPluginOptions {
  app: BeauvoirApp;
  routes: ReadonlyMap<string, RouteSettings>;
  timeoutMs: number | undefined;
  workflowId: string;
}

/** Defaults of {@link BeauvoirPluginOptions}. */
export const PLUGIN_DEFAULTS = Object.freeze({ workflowId: "octokit" });

const STRATEGIES: ReadonlySet<unknown> = new Set(["safe_retry", "check_then_retry", "skip"]);
const ROUTE_KEY = /^(GET|HEAD|POST|PUT|PATCH|DELETE) \/\S*$/;

/**
 * Checks the plugin's options.
 * @throws TypeError or RangeError naming the option.
 */
export function resolvePluginOptions(options: unknown): ResolvedPluginOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      "beauvoir.app is required: new MyOctokit({ auth, beauvoir: { app } }), with app what boot() returned",
    );
  }
  const { app, routes, timeoutMs, workflowId } = options as Partial<BeauvoirPluginOptions>;
  const executor = (app as Partial<BeauvoirApp> | undefined)?.executor;
  if (
    typeof executor?.execute !== "function" ||
    typeof executor.registerReconcilers !== "function"
  ) {
    throw new TypeError("beauvoir.app must be what boot() returned (its executor is missing)");
  }
  if (typeof (app as BeauvoirApp).services !== "object" || (app as BeauvoirApp).services === null) {
    throw new TypeError("beauvoir.app must be what boot() returned (its services are missing)");
  }
  const resolvedRoutes = new Map<string, RouteSettings>();
  if (routes !== undefined) {
    if (typeof routes !== "object" || routes === null) {
      throw new TypeError("beauvoir.routes must be an object keyed by 'METHOD /route'");
    }
    for (const [route, settings] of Object.entries(routes)) {
      if (!ROUTE_KEY.test(route)) {
        throw new RangeError(
          `beauvoir.routes: "${route}" must read "METHOD /route", e.g. "POST /markdown"`,
        );
      }
      checkSettings(settings, `beauvoir.routes["${route}"]`);
      resolvedRoutes.set(route, settings);
    }
  }
  if (timeoutMs !== undefined) checkTimeout(timeoutMs, "beauvoir.timeoutMs");
  if (workflowId !== undefined) checkName(workflowId, "beauvoir.workflowId");
  return {
    app: app as BeauvoirApp,
    routes: resolvedRoutes,
    timeoutMs,
    workflowId: workflowId ?? PLUGIN_DEFAULTS.workflowId,
  };
}

/**
 * Checks a per-request override.
 * @throws TypeError or RangeError naming the field.
 */
export function resolveRequestOptions(value: unknown): BeauvoirRequestOptions {
  if (value === undefined) return {};
  const name = "request.beauvoir";
  if (typeof value !== "object" || value === null) throw new TypeError(`${name} must be an object`);
  const override = value as BeauvoirRequestOptions;
  checkSettings(override, name);
  if (override.idempotencyKey !== undefined)
    checkName(override.idempotencyKey, `${name}.idempotencyKey`);
  if (override.timeoutMs !== undefined) checkTimeout(override.timeoutMs, `${name}.timeoutMs`);
  return override;
}

function checkSettings(settings: unknown, name: string): void {
  if (typeof settings !== "object" || settings === null)
    throw new TypeError(`${name} must be an object`);
  const { action, strategy, kind } = settings as RouteSettings;
  if (action !== undefined) checkName(action, `${name}.action`);
  if (strategy !== undefined && !STRATEGIES.has(strategy)) {
    throw new RangeError(
      `${name}.strategy must be "safe_retry", "check_then_retry" or "skip", got ${String(strategy)}`,
    );
  }
  if (kind !== undefined && kind !== "read" && kind !== "write") {
    throw new RangeError(`${name}.kind must be "read" or "write", got ${String(kind)}`);
  }
}

function checkName(value: unknown, name: string): void {
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`${name} must be a non-empty string, got ${String(value)}`);
  }
}

function checkTimeout(value: unknown, name: string): void {
  if (typeof value !== "number" || Number.isNaN(value) || value <= 0) {
    throw new RangeError(
      `${name} must be a positive number of milliseconds (Infinity for none), got ${String(value)}`,
    );
  }
}
