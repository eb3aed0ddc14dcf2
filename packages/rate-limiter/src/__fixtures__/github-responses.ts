// GitHub REST answers as they really look (status, rate-limit headers, body),
// shared by the unit tests and the local HTTP server of the integration test.

/** The epoch second the fixtures' rate-limit window resets at. */
export const RESET_AT_EPOCH_SEC = 1_700_000_000;

export interface GitHubAnswer {
  status: number;
  headers: Record<string, string>;
  body: { message: string; documentation_url?: string; errors?: unknown[]; status?: string };
}

function quotaHeaders(remaining: number): Record<string, string> {
  return {
    "content-type": "application/json; charset=utf-8",
    "x-github-media-type": "github.v3; format=json",
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": String(remaining),
    "x-ratelimit-used": String(5000 - remaining),
    "x-ratelimit-reset": String(RESET_AT_EPOCH_SEC),
    "x-ratelimit-resource": "core",
    "x-github-request-id": "C0DE:1234:5678ABC:9ABCDEF:65000000",
  };
}

const RATE_LIMITS_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

export const githubAnswers = {
  /** Secondary limit answered with 429 and `retry-after` (newer API behaviour). */
  tooManyRequests: {
    status: 429,
    headers: { ...quotaHeaders(4_321), "retry-after": "30" },
    body: {
      message:
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      documentation_url: `${RATE_LIMITS_DOCS}#about-secondary-rate-limits`,
      status: "429",
    },
  },
  /** 429 with nothing but the status. */
  bareTooManyRequests: {
    status: 429,
    headers: { "content-type": "text/plain" },
    body: { message: "Too Many Requests" },
  },
  /** 403 with `retry-after` and no explanation. */
  forbiddenWithRetryAfter: {
    status: 403,
    headers: { ...quotaHeaders(4_990), "retry-after": "120" },
    body: { message: "Forbidden" },
  },
  /** Primary limit: quota used up, reset time given. */
  primaryLimit: {
    status: 403,
    headers: quotaHeaders(0),
    body: {
      message:
        "API rate limit exceeded for user ID 1234567. If you reach out to GitHub Support for help, please include the request ID C0DE:1234:5678ABC:9ABCDEF:65000000.",
      documentation_url: RATE_LIMITS_DOCS,
    },
  },
  /** Secondary limit in the body, no `retry-after`: GitHub says wait at least a minute. */
  secondaryMessage: {
    status: 403,
    headers: quotaHeaders(4_986),
    body: {
      message:
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID C0DE:1234:5678ABC:9ABCDEF:65000000.",
      documentation_url: `${RATE_LIMITS_DOCS}#about-secondary-rate-limits`,
    },
  },
  /** The older wording of a secondary limit. */
  abuseDetection: {
    status: 403,
    headers: { ...quotaHeaders(4_000), "retry-after": "60" },
    body: {
      message:
        "You have triggered an abuse detection mechanism. Please wait a few minutes before you try again.",
      documentation_url: "https://developer.github.com/v3/#abuse-rate-limits",
    },
  },
  /** A permission problem, not a rate limit. */
  plainForbidden: {
    status: 403,
    headers: quotaHeaders(4_999),
    body: {
      message: "Resource not accessible by integration",
      documentation_url: "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
    },
  },
  notFound: {
    status: 404,
    headers: quotaHeaders(4_998),
    body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" },
  },
  validationFailed: {
    status: 422,
    headers: quotaHeaders(4_997),
    body: {
      message: "Validation Failed",
      errors: [{ resource: "Label", code: "already_exists", field: "name" }],
      documentation_url: "https://docs.github.com/rest/issues/labels#create-a-label",
    },
  },
  serverError: {
    status: 500,
    headers: quotaHeaders(4_996),
    body: { message: "Server Error" },
  },
  badGateway: {
    status: 502,
    headers: { "content-type": "application/json" },
    body: { message: "Server Error" },
  },
} satisfies Record<string, GitHubAnswer>;
