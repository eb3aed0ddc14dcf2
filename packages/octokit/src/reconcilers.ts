import type { ReconcileContext, ReconcileHook } from "@beauvoir/boot";
import { foundEffects } from "./found-effects.js";
import { LOOKUPS } from "./lookups.js";
import type { OctokitReader } from "./octokit-types.js";
import type { RouteSettings } from "./plugin-options.js";
import { routeParamsOf } from "./route-plan.js";
import { WRITE_ROUTES, type WriteRoute } from "./route-table.js";

/** Options of {@link beauvoirReconcilers}. */
export interface BeauvoirReconcilersOptions {
  /** The plugin's `routes`, so renamed actions get their hooks too. @default {} */
  routes?: Readonly<Record<string, RouteSettings>> | undefined;
}

/**
 * The built-in reconcile hook of one `check_then_retry` route: reads the
 * route's parameters back from the step's resource, looks the effect up on
 * GitHub, and answers `done` when it is there.
 * @param reader - any Octokit with the same access.
 * @param route - `"METHOD /route"`.
 * @param write - the table's entry (its lookup).
 */
export function reconcileHookFor(
  reader: OctokitReader,
  route: string,
  write: Readonly<WriteRoute>,
): ReconcileHook {
  const lookup = write.lookup === undefined ? undefined : LOOKUPS[write.lookup];
  if (!lookup) throw new RangeError(`${route} has no lookup`);
  return async (context: ReconcileContext) => {
    const routeParams = routeParamsOf(route, context.scope, context.resource);
    if (!routeParams) {
      // An intent from before this plugin, or another route's: only a human can tell.
      throw new RangeError(
        `cannot read the parameters of ${route} from ${context.scope}/${context.resource}`,
      );
    }
    const found = await lookup(reader, {
      routeParams,
      params: context.params,
      key: context.key,
      signal: context.signal,
    });
    if (found === undefined) return "not_done";
    foundEffects.remember(context.key, found);
    return "done";
  };
}

/**
 * The plugin's reconcile hooks, for `boot({ reconcilers })`: boot's step 5
 * reconciles the writes a crash left pending before the plugin's Octokit
 * exists. Build them from any Octokit with the same access, e.g. a plain
 * `new Octokit({ auth })` (only `request` is used).
 *
 * Without them boot leaves those keys pending and the plugin reconciles
 * them when it is constructed; with them boot's report is complete.
 * @param reader - an Octokit instance.
 * @param options - the plugin's `routes`, if it renames actions.
 * @returns one hook per `check_then_retry` action.
 * @example
 * ```ts
 * const app = await boot({ dataDir, reconcilers: beauvoirReconcilers(new Octokit({ auth })) });
 * const octokit = new (Octokit.plugin(beauvoir))({ auth, beauvoir: { app } });
 * ```
 */
export function beauvoirReconcilers(
  reader: OctokitReader,
  options: BeauvoirReconcilersOptions = {},
): Record<string, ReconcileHook> {
  if (typeof reader?.request !== "function") {
    throw new TypeError("beauvoirReconcilers needs an Octokit instance (its request() is used)");
  }
  const hooks: Record<string, ReconcileHook> = {};
  for (const [route, write] of Object.entries(WRITE_ROUTES)) {
    if (write.lookup === undefined) continue;
    const renamed = options.routes?.[route]?.action;
    for (const action of new Set([write.action, renamed ?? write.action])) {
      hooks[action] = reconcileHookFor(reader, route, write);
    }
  }
  return hooks;
}
