// The shape of the error Octokit throws for an HTTP failure, built from a fixture.
import type { GitHubResponseFixture } from "./github-responses.js";

/** The shape of Octokit's `RequestError` (`@octokit/request-error`). */
export class RequestError extends Error {
  override readonly name = "HttpError";
  readonly status: number;
  readonly request = {
    method: "GET",
    url: "https://api.github.com/repos/o/r/issues/1",
    headers: {},
  };
  readonly response: {
    url: string;
    status: number;
    headers: Record<string, string>;
    data: unknown;
  };

  constructor(fixture: GitHubResponseFixture) {
    const data = fixture.body as { message?: string; documentation_url?: string } | string;
    super(typeof data === "string" ? data : `${data.message} - ${data.documentation_url ?? ""}`);
    this.status = fixture.status;
    this.response = {
      url: this.request.url,
      status: fixture.status,
      headers: fixture.headers,
      data: fixture.body,
    };
  }
}
