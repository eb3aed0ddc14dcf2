// The agent's GitHub REST client: fetch, the token in the Authorization
// header, and errors that carry status, headers and body so Beauvoir's breaker
// and rate limiter can classify them the way GitHub means them.

/** A non-2xx answer from the API. */
export class GitHubRequestError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;

  constructor(
    method: string,
    path: string,
    status: number,
    headers: Record<string, string>,
    body: unknown,
  ) {
    const message = (body as { message?: string } | undefined)?.message ?? "request failed";
    super(`${method} ${path} answered ${status}: ${message}`);
    this.name = "GitHubRequestError";
    this.status = status;
    this.headers = headers;
    this.body = body;
  }
}

export interface GitHubClient {
  request<T>(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T>;
}

export function createGitHubClient(baseUrl: string, token: string): GitHubClient {
  return {
    async request<T>(method: "GET" | "POST", path: string, body?: unknown, signal?: AbortSignal) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        signal,
        headers: {
          accept: "application/vnd.github+json",
          authorization: `Bearer ${token}`,
          "x-github-api-version": "2022-11-28",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      const parsed: unknown = text ? JSON.parse(text) : undefined;
      if (!response.ok) {
        throw new GitHubRequestError(
          method,
          path,
          response.status,
          Object.fromEntries(response.headers),
          parsed,
        );
      }
      return parsed as T;
    },
  };
}
