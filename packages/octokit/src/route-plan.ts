import type { CompensationStrategy } from "@beauvoir/boot";
import type { EndpointOptions } from "./octokit-types.js";
import type { BeauvoirRequestOptions, RouteSettings } from "./plugin-options.js";
import { READ_ONLY_POST_ROUTES, WRITE_ROUTES, type WriteRoute } from "./route-table.js";

/** What the plugin makes of one request. */
export interface RoutePlan {
  /** `"METHOD /route"`, with the route's template when it is known. */
  route: string;
  kind: "read" | "write";
  action: string;
  /** The step's strategy; `undefined` leaves it to the index's compensation table (`skip` unless configured). */
  strategy: CompensationStrategy | undefined;
  /** `{owner}/{repo}`, else the org, user or API host. */
  scope: string;
  /** The route below the repository, with its parameters: `issues/12/comments`. */
  resource: string;
  /** The route's parameters, by name. */
  routeParams: Readonly<Record<string, string>>;
  /** The request body (writes) or the query parameters (reads). */
  params: Record<string, unknown>;
  /** The table's entry, when the route is in it (its marker and lookup). */
  write: Readonly<WriteRoute> | undefined;
}

/** Endpoint options that are not parameters. */
const NOT_PARAMETERS = new Set(["method", "baseUrl", "url", "headers", "request", "mediaType"]);
const VARIABLE = /\{[+#./;?&]?([^{}]+)\}/g;
const REPOSITORY_PREFIX = "/repos/{owner}/{repo}";

interface KnownRoute {
  method: string;
  template: string;
  pattern: RegExp;
  names: string[];
}

/**
 * Maps requests to plans: the built-in table, with the caller's `routes`
 * on top. Routes are recognised by their template (what Octokit's methods
 * pass) or, for a request made with a literal path, by matching the path.
 */
export class RoutePlanner {
  readonly #settings: ReadonlyMap<string, RouteSettings>;
  readonly #known: KnownRoute[];

  /** @param settings - the caller's routes, by `"METHOD /route"`. */
  constructor(settings: ReadonlyMap<string, RouteSettings>) {
    this.#settings = settings;
    const routes = new Set([
      ...Object.keys(WRITE_ROUTES),
      ...READ_ONLY_POST_ROUTES,
      ...settings.keys(),
    ]);
    this.#known = [...routes].map((route) => {
      const [method = "", template = ""] = route.split(" ");
      return { method, template, ...compileTemplate(template) };
    });
  }

  /** The write route of the table (or the caller's routes) with this action, if any. */
  writeRouteOf(action: string): { route: string; write: Readonly<WriteRoute> } | undefined {
    for (const [route, settings] of this.#settings) {
      const write = WRITE_ROUTES[route];
      if (settings.action === action && write) return { route, write };
    }
    for (const [route, write] of Object.entries(WRITE_ROUTES)) {
      if (write.action === action) return { route, write };
    }
    return undefined;
  }

  /**
   * Plans one request.
   * @param options - what the request hook received.
   * @param override - the request's `request.beauvoir`.
   */
  plan(options: EndpointOptions, override: BeauvoirRequestOptions): RoutePlan {
    const method = String(options.method).toUpperCase();
    const { template, routeParams } = this.#templateOf(method, options);
    const route = `${method} ${template}`;
    const names = new Set(variablesOf(template));
    const params: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(options)) {
      if (!NOT_PARAMETERS.has(name) && !names.has(name) && value !== undefined)
        params[name] = value;
    }
    const settings = this.#settings.get(route);
    const table = WRITE_ROUTES[route];
    const kind =
      override.kind ??
      settings?.kind ??
      (method === "GET" || method === "HEAD" || method === "OPTIONS"
        ? "read"
        : route === "POST /graphql"
          ? isGraphqlMutation(params.query)
            ? "write"
            : "read"
          : READ_ONLY_POST_ROUTES.has(route)
            ? "read"
            : "write");
    const action =
      override.action ??
      settings?.action ??
      table?.actionFor?.(params) ??
      table?.action ??
      (route === "POST /graphql" ? "graphql_mutation" : derivedAction(method, template));
    return {
      route,
      kind,
      action,
      strategy: override.strategy ?? settings?.strategy ?? table?.strategy,
      scope: scopeOf(routeParams, options.baseUrl),
      resource: resourceOf(template, routeParams),
      routeParams,
      params,
      write: table,
    };
  }

  #templateOf(
    method: string,
    options: EndpointOptions,
  ): { template: string; routeParams: Record<string, string> } {
    const url = String(options.url ?? "/").replace(/:([a-z]\w+)/g, "{$1}");
    if (url.includes("{")) {
      const routeParams: Record<string, string> = {};
      for (const name of variablesOf(url)) {
        const value = options[name];
        if (value !== undefined && value !== null) routeParams[name] = String(value);
      }
      return { template: url, routeParams };
    }
    const path = pathOf(url, options.baseUrl);
    for (const known of this.#known) {
      if (known.method !== method) continue;
      const match = known.pattern.exec(path);
      if (!match) continue;
      const routeParams: Record<string, string> = {};
      known.names.forEach((name, index) => {
        routeParams[name] = safeDecode(match[index + 1] ?? "");
      });
      return { template: known.template, routeParams };
    }
    // An unknown literal path (a pagination link, a hand-written URL): the
    // repository is read off it, the rest stays literal.
    const repository = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (repository) {
      return {
        template: `${REPOSITORY_PREFIX}${repository[3] ?? ""}`,
        routeParams: {
          owner: safeDecode(repository[1] ?? ""),
          repo: safeDecode(repository[2] ?? ""),
        },
      };
    }
    return { template: path, routeParams: {} };
  }
}

/** A regular expression matching a template's paths, and its parameters' names in order. */
function compileTemplate(template: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = template
    .split(VARIABLE)
    .map((part, index) => {
      if (index % 2 === 1) {
        names.push(part);
        return "([^/]+)";
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("");
  return { pattern: new RegExp(`^${source}$`), names };
}

/** Templates seen so far and their parameters: every request parses its route once, not each time. */
const templateVariables = new Map<string, readonly string[]>();
const MAX_REMEMBERED_TEMPLATES = 1_000;

function variablesOf(template: string): readonly string[] {
  let names = templateVariables.get(template);
  if (names === undefined) {
    names = [...template.matchAll(VARIABLE)].flatMap((match) =>
      (match[1] ?? "").split(",").map((name) => name.replace(/[:*].*$/, "")),
    );
    // Literal paths (pagination links) make templates without end: forget them all now and then.
    if (templateVariables.size >= MAX_REMEMBERED_TEMPLATES) templateVariables.clear();
    templateVariables.set(template, names);
  }
  return names;
}

/** The path of a URL, relative to the API's base URL, without its query. */
function pathOf(url: string, baseUrl: string | undefined): string {
  let path = url;
  if (/^https?:\/\//i.test(url)) {
    const parsed = new URL(url);
    path = parsed.pathname;
    if (baseUrl) {
      const basePath = new URL(baseUrl).pathname.replace(/\/$/, "");
      if (basePath !== "" && path.startsWith(`${basePath}/`)) path = path.slice(basePath.length);
    }
  }
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
}

function scopeOf(routeParams: Readonly<Record<string, string>>, baseUrl: string | undefined) {
  if (routeParams.owner !== undefined && routeParams.repo !== undefined) {
    return `${routeParams.owner}/${routeParams.repo}`;
  }
  const named = routeParams.org ?? routeParams.owner ?? routeParams.username;
  if (named !== undefined) return named;
  try {
    return new URL(baseUrl ?? "https://api.github.com").host;
  } catch {
    return "api";
  }
}

/** The template below the repository (or the whole path), its parameters filled in. */
function resourceOf(template: string, routeParams: Readonly<Record<string, string>>): string {
  const below = template.startsWith(REPOSITORY_PREFIX)
    ? template.slice(REPOSITORY_PREFIX.length)
    : template;
  const expanded = below
    .replace(VARIABLE, (_, name: string) => encodeURIComponent(routeParams[name] ?? ""))
    .replace(/^\/+|\/+$/g, "");
  if (expanded !== "") return expanded;
  return template.startsWith(REPOSITORY_PREFIX) ? "repo" : "root";
}

/**
 * `post_issues_reactions` for `POST /repos/{owner}/{repo}/issues/{issue_number}/reactions`:
 * the method and the route's fixed segments (literal numbers left out).
 */
export function derivedAction(method: string, template: string): string {
  const below = template.startsWith(REPOSITORY_PREFIX)
    ? template.slice(REPOSITORY_PREFIX.length)
    : template;
  const segments = below
    .split("/")
    .filter((segment) => segment !== "" && !segment.includes("{") && !/^\d+$/.test(segment))
    .map((segment) =>
      segment
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "_")
        .replace(/^_|_$/g, ""),
    )
    .filter((segment) => segment !== "");
  const rest =
    segments.length > 0
      ? segments.join("_")
      : template.startsWith(REPOSITORY_PREFIX)
        ? "repo"
        : "root";
  return `${method.toLowerCase()}_${rest}`;
}

/** Whether a GraphQL document's operation is a mutation (comments and fragments aside). */
function isGraphqlMutation(query: unknown): boolean {
  if (typeof query !== "string") return false;
  const text = query.replace(/#[^\n\r]*/g, " ");
  return /(^|[}\s])mutation\b/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, '""'));
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The route parameters of a resource made by {@link RoutePlan.resource}, read
 * back with the route's template (what a reconcile hook gets after a crash).
 * @returns the parameters, or `undefined` when the resource is not of that route.
 */
export function routeParamsOf(
  route: string,
  scope: string,
  resource: string,
): Record<string, string> | undefined {
  const template = route.slice(route.indexOf(" ") + 1);
  if (!template.startsWith(REPOSITORY_PREFIX)) return undefined;
  const slash = scope.indexOf("/");
  if (slash <= 0) return undefined;
  const { pattern, names } = compileTemplate(
    template.slice(REPOSITORY_PREFIX.length).replace(/^\/+/, ""),
  );
  const match = pattern.exec(resource);
  if (!match) return undefined;
  const params: Record<string, string> = {
    owner: scope.slice(0, slash),
    repo: scope.slice(slash + 1),
  };
  names.forEach((name, index) => {
    params[name] = safeDecode(match[index + 1] ?? "");
  });
  return params;
}
