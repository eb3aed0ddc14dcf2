import type { ReconcileHook, StepRequest } from "@beauvoir/boot";
import { silentLogger } from "@beauvoir/core";
import { SecretRedactor } from "@beauvoir/redactor";
import { OctokitFailureRules } from "./failure-rules.js";
import { foundEffects } from "./found-effects.js";
import { withMarker } from "./hidden-marker.js";
import { LOOKUPS } from "./lookups.js";
import type {
  EndpointOptions,
  OctokitLike,
  OctokitResponseLike,
  SendRequest,
} from "./octokit-types.js";
import {
  type BeauvoirPluginOptions,
  type BeauvoirRequestOptions,
  resolvePluginOptions,
  resolveRequestOptions,
} from "./plugin-options.js";
import { beauvoirReconcilers, reconcileHookFor } from "./reconcilers.js";
import { redactOctokitError } from "./redact-error.js";
import { redactOctokitLog } from "./redacted-log.js";
import { recordedForm, replayedResponse } from "./response-forms.js";
import { type RoutePlan, RoutePlanner } from "./route-plan.js";

/** What `octokit.beauvoir` offers. */
export interface BeauvoirOctokitApi {
  /**
   * Settles once the writes a crash left pending (and that boot left to
   * this plugin's hooks) are reconciled. Writes wait for it by themselves.
   */
  readonly ready: Promise<void>;
  /**
   * How the plugin treats a request: its kind, action, strategy, scope and resource.
   * @param route - e.g. `"POST /repos/{owner}/{repo}/issues/{issue_number}/comments"`.
   * @param parameters - the request's parameters.
   */
  plan(route: string, parameters?: Record<string, unknown>): RoutePlan;
}

const NO_OVERRIDE: BeauvoirRequestOptions = Object.freeze({});

/** Octokit's `request`, with the endpoint defaults it carries. */
interface OctokitRequestWithDefaults {
  endpoint: { merge(route: string, parameters: Record<string, unknown>): EndpointOptions };
}

/** An answer the executor must not retry or count as a failure: GitHub said no (304, 404, 422). */
class AnsweredRefusal {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
  /** The answer's status and headers, for the rate limiter: a refusal reports the quota too. */
  get status(): unknown {
    return (this.error as { status?: unknown }).status;
  }
  get headers(): unknown {
    return (this.error as { response?: { headers?: unknown } }).response?.headers;
  }
}

/**
 * The Octokit plugin: every request goes through the app's rate limiter and
 * circuit breakers, and every write (`POST`, `PUT`, `PATCH`, `DELETE`) is a
 * durable step of its executor: recorded before it is sent, never sent
 * twice across a crash, retried or reconciled as GitHub's answer and the
 * route's compensation strategy say. Errors reach the caller as Octokit's
 * own, redacted.
 * @param octokit - the instance being constructed.
 * @param options - its constructor options; `beauvoir: { app }` is required.
 * @returns `{ beauvoir }`, merged into the instance.
 * @throws TypeError or RangeError naming a bad `beauvoir` option.
 * @example
 * ```ts
 * import { Octokit } from "@octokit/rest";
 * import { boot } from "@beauvoir/boot";
 * import { beauvoir } from "@beauvoir/octokit";
 *
 * const app = await boot({ dataDir: "/var/lib/my-bot" });
 * const MyOctokit = Octokit.plugin(beauvoir);
 * const octokit = new MyOctokit({ auth: process.env.GITHUB_TOKEN, beauvoir: { app } });
 * await octokit.rest.issues.createComment({ owner: "acme", repo: "widgets", issue_number: 12, body: "Thanks!" });
 * ```
 */
export function beauvoir(
  octokit: OctokitLike,
  options: { [option: string]: unknown; beauvoir?: BeauvoirPluginOptions | undefined },
): { beauvoir: BeauvoirOctokitApi } {
  const config = resolvePluginOptions(options?.beauvoir);
  const { executor, services } = config.app;
  const logger = services.logger ?? silentLogger;
  const redactor = services.redactor ?? new SecretRedactor();
  redactOctokitLog(octokit, redactor);
  const planner = new RoutePlanner(config.routes);
  const rules = new OctokitFailureRules();
  const hookRegistrations = new Map<string, Promise<void>>();

  const register = (hooks: Record<string, ReconcileHook>): Promise<void> =>
    executor.registerReconcilers(hooks).then(
      (report) => {
        const settled = report.promoted.length + report.rerun.length + report.failed.length;
        if (settled > 0 || report.unresolved.length > 0) {
          logger.info("octokit: reconciled writes left pending by a crash", {
            promoted: report.promoted,
            rerun: report.rerun,
            failed: report.failed,
            unresolved: report.unresolved,
          });
        }
      },
      (error: unknown) => {
        // Each pending key is still settled by its own next execute().
        logger.warn("octokit: reconciling pending writes failed", { error });
      },
    );

  /** A custom action name on a route with a lookup gets the route's hook too. */
  const hookFor = (plan: RoutePlan): Promise<void> | undefined => {
    if (!plan.write?.lookup || executor.hasReconciler(plan.action)) return undefined;
    let registration = hookRegistrations.get(plan.action);
    if (!registration) {
      registration = register({ [plan.action]: reconcileHookFor(octokit, plan.route, plan.write) });
      hookRegistrations.set(plan.action, registration);
    }
    return registration;
  };

  const stepOf = (
    plan: RoutePlan,
    options: EndpointOptions,
    override: BeauvoirRequestOptions,
  ): Omit<StepRequest<unknown>, "run"> => {
    const timeoutMs = override.timeoutMs ?? config.timeoutMs;
    const signal = options.request?.signal;
    return {
      kind: plan.kind,
      action: plan.action,
      scope: plan.scope,
      resource: plan.resource,
      params: plan.params,
      workflowId: config.workflowId,
      failureKind: rules.failureKind,
      classify: rules.classify,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(signal instanceof AbortSignal ? { signal } : {}),
      ...(plan.kind === "write" && plan.strategy !== undefined ? { strategy: plan.strategy } : {}),
      ...(override.idempotencyKey === undefined ? {} : { idempotencyKey: override.idempotencyKey }),
    };
  };

  const read = async (
    send: SendRequest,
    plan: RoutePlan,
    options: EndpointOptions,
    override: BeauvoirRequestOptions,
  ): Promise<OctokitResponseLike> => {
    const outcome = await executor.execute({
      ...stepOf(plan, options, override),
      kind: "read",
      run: async ({ signal }) => {
        try {
          return await send(prepared(options, { signal }));
        } catch (error) {
          // GitHub answered "no" (a 404, a 304): nothing to retry, nothing wrong with GitHub.
          if ((await rules.judge(error)) === "rejected") return new AnsweredRefusal(error);
          throw error;
        }
      },
    });
    if (outcome.result instanceof AnsweredRefusal) throw outcome.result.error;
    return outcome.result;
  };

  const write = async (
    send: SendRequest,
    plan: RoutePlan,
    options: EndpointOptions,
    override: BeauvoirRequestOptions,
  ): Promise<OctokitResponseLike> => {
    const original = { body: options.body, external_id: options.external_id };
    await ready;
    await hookFor(plan);
    let answered: OctokitResponseLike | undefined;
    const outcome = await executor.execute({
      ...stepOf(plan, options, override),
      kind: "write",
      run: async ({ signal, idempotencyKey }) => {
        try {
          answered = await send(
            prepared(options, { signal, ...marked(original, plan, idempotencyKey) }),
          );
        } catch (error) {
          answered = await existingBranch(octokit, plan, error, signal);
          if (!answered) {
            await rules.judge(error);
            throw error;
          }
        }
        return recordedForm(answered);
      },
    });
    switch (outcome.status) {
      case "executed":
        return answered ?? replayedResponse("deduplicated", outcome.result);
      case "deduplicated":
        return replayedResponse("deduplicated", outcome.result);
      case "dry_run":
        return replayedResponse("dry_run", undefined);
      default:
        return replayedResponse(
          "reconciled",
          undefined,
          await foundEffect(octokit, plan, outcome.idempotencyKey),
        );
    }
  };

  octokit.hook.wrap("request", async (send: SendRequest, options: EndpointOptions) => {
    const given = options.request?.beauvoir;
    const override = given === undefined ? NO_OVERRIDE : resolveRequestOptions(given);
    const plan = planner.plan(options, override);
    if (override !== NO_OVERRIDE) prepared(options, { withoutOverride: true });
    try {
      return plan.kind === "read"
        ? await read(send, plan, options, override)
        : await write(send, plan, options, override);
    } catch (error) {
      throw redactOctokitError(error, redactor);
    }
  });
  // After the wrap: the hooks' lookups go through it (as reads).
  const ready = register(
    beauvoirReconcilers(octokit, { routes: Object.fromEntries(config.routes) }),
  );

  return {
    beauvoir: {
      ready,
      plan: (route, parameters = {}) => {
        // With the instance's defaults (its baseUrl above all), as a request would have them.
        const merge = (octokit.request as Partial<Pick<OctokitRequestWithDefaults, "endpoint">>)
          .endpoint?.merge;
        const [method = "GET", url = "/"] = route.split(" ");
        return planner.plan(merge ? merge(route, parameters) : { ...parameters, method, url }, {});
      },
    },
  };
}

/** What an attempt changes in the request before it is sent. */
interface Preparation {
  signal?: AbortSignal;
  /** Drop `request.beauvoir`, which is this plugin's and not GitHub's. */
  withoutOverride?: boolean;
  body?: unknown;
  external_id?: unknown;
}

/**
 * Changes the request in place: Octokit's hook chain hands every inner hook
 * (authentication among them) the options object it started with, and
 * ignores a new one, so an attempt's signal and marker must be written into it.
 */
function prepared(options: EndpointOptions, preparation: Preparation): EndpointOptions {
  const { signal, withoutOverride, ...fields } = preparation;
  if (signal !== undefined || withoutOverride) {
    const request: Record<string, unknown> = { ...options.request };
    if (withoutOverride) delete request.beauvoir;
    if (signal !== undefined) request.signal = signal;
    options.request = request;
  }
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) delete options[name];
    else options[name] = value;
  }
  return options;
}

/** The request's fields with the step's key where the route's lookup will look for it. */
function marked(
  original: { body: unknown; external_id: unknown },
  plan: RoutePlan,
  key: string,
): { body?: unknown; external_id?: unknown } {
  if (key === "") return original;
  switch (plan.write?.marker) {
    case "body":
      return { ...original, body: withMarker(original.body, key) };
    case "external_id":
      return { ...original, external_id: original.external_id ?? key };
    default:
      return original;
  }
}

/**
 * `create_branch` is `safe_retry`: when its first attempt did create the ref
 * but the answer was lost, the next one gets "Reference already exists". A
 * ref that points at the requested commit is that effect, not a failure.
 */
async function existingBranch(
  octokit: OctokitLike,
  plan: RoutePlan,
  error: unknown,
  signal: AbortSignal,
): Promise<OctokitResponseLike | undefined> {
  if (plan.write?.action !== "create_branch") return undefined;
  const failure = error as { status?: unknown; message?: unknown };
  if (failure.status !== 422 || !/reference already exists/i.test(String(failure.message))) {
    return undefined;
  }
  const ref = String(plan.params.ref ?? "").replace(/^refs\//, "");
  try {
    const existing: OctokitResponseLike = await octokit.request(
      "GET /repos/{owner}/{repo}/git/ref/{ref}",
      { owner: plan.routeParams.owner, repo: plan.routeParams.repo, ref, request: { signal } },
    );
    const sha = (existing.data as { object?: { sha?: unknown } } | undefined)?.object?.sha;
    return sha === plan.params.sha ? existing : undefined;
  } catch {
    return undefined;
  }
}

/** What a hook found for a reconciled write, or a fresh lookup when it was found elsewhere. */
async function foundEffect(octokit: OctokitLike, plan: RoutePlan, key: string): Promise<unknown> {
  const remembered = foundEffects.take(key);
  if (remembered !== undefined || plan.write?.lookup === undefined) return remembered;
  try {
    return await LOOKUPS[plan.write.lookup](octokit, {
      routeParams: plan.routeParams,
      params: plan.params,
      key,
      signal: AbortSignal.timeout(60_000),
    });
  } catch {
    return undefined;
  }
}
