// The shapes a side effect throws or returns, built from the fixtures'
// GitHub answers: Octokit's RequestError, a fetch Response, a plain object.
import type { GitHubAnswer } from "./github-responses.js";

/** The shape of Octokit's `RequestError` (`@octokit/request-error` v6/v7). */
export class OctokitRequestError extends Error {
  override readonly name = "HttpError";
  readonly status: number;
  readonly request: { method: string; url: string; headers: Record<string, string> };
  readonly response: {
    url: string;
    status: number;
    headers: Record<string, string>;
    data: unknown;
  };

  constructor(
    answer: GitHubAnswer,
    method = "POST",
    url = "https://api.github.com/repos/o/r/issues/1/comments",
  ) {
    super(`${answer.body.message} - ${answer.body.documentation_url ?? ""}`);
    this.status = answer.status;
    this.request = { method, url, headers: { authorization: "token [REDACTED]" } };
    this.response = { url, status: answer.status, headers: answer.headers, data: answer.body };
  }
}

/** A fetch `Response` with the answer's status, headers and JSON body. */
export function fetchResponse(answer: GitHubAnswer): Response {
  return new Response(JSON.stringify(answer.body), {
    status: answer.status,
    headers: answer.headers,
  });
}

/** A plain `{ status, headers }` object, as hand-written clients produce. */
export function plainAnswer(answer: GitHubAnswer): {
  status: number;
  headers: Record<string, string>;
} {
  return { status: answer.status, headers: answer.headers };
}
