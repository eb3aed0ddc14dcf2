/**
 * The parts of Octokit the plugin touches, described structurally so that
 * this package never loads `@octokit/core` (ESM-only since v6) itself: its
 * CommonJS build works next to any Octokit the application brings.
 */

/** What a `request` hook receives: the route merged with its parameters and defaults. */
export interface EndpointOptions {
  /** `GET`, `POST`, … */
  method: string;
  /** The route template (`/repos/{owner}/{repo}/issues`) or a full URL (pagination). */
  url: string;
  baseUrl?: string | undefined;
  headers?: Record<string, unknown> | undefined;
  /** Octokit's request options; `beauvoir` holds this plugin's per-request override. */
  request?: (Record<string, unknown> & { signal?: AbortSignal | undefined }) | undefined;
  /** Route parameters, query parameters and body fields. */
  [parameter: string]: unknown;
}

/** An Octokit response. */
export interface OctokitResponseLike {
  status: number;
  url: string;
  headers: Record<string, string | number | undefined>;
  data: unknown;
}

/** The function a `request` hook wraps: sends one request (auth and the rest of the chain included). */
export type SendRequest = (options: EndpointOptions) => Promise<OctokitResponseLike>;

/** What the plugin needs from an Octokit instance. */
export interface OctokitLike {
  // biome-ignore lint/suspicious/noExplicitAny: Octokit's request is an overloaded generic interface.
  request: (...args: any[]) => Promise<any>;
  // biome-ignore lint/suspicious/noExplicitAny: before-after-hook's collection is generic over hook names.
  hook: { wrap: (...args: any[]) => unknown };
}

/** What the reconcile hooks need from an Octokit instance: `request`, a plain one will do. */
export type OctokitReader = Pick<OctokitLike, "request">;
