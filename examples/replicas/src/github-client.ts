// The replicas' GitHub REST client: fetch, the token in the Authorization
// header, JSON in and out. A non-2xx answer is thrown as the fetch Response
// itself: Beauvoir's executor reads its status, headers and body to tell a
// rate limit from a 502 from a rejection. (examples/github-agent uses
// @octokit/rest with @beauvoir/octokit instead; this example drives the
// executor by hand to show the PostgreSQL backend's attempts and fences.)

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
      if (!response.ok) throw response;
      const text = await response.text();
      return (text ? JSON.parse(text) : undefined) as T;
    },
  };
}
