// Failed GitHub REST responses as the API sends them (status, the headers that
// matter plus the noisy ones around them, body), after the shapes documented in
// "Rate limits for the REST API" and "Troubleshooting the REST API".

/** One recorded response. */
export interface GitHubResponseFixture {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

// Sent on every API response; it names Retry-After and X-RateLimit-Remaining
// without being either, which trips classifiers that search header text.
const EXPOSE_HEADERS =
  "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, " +
  "X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, " +
  "X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, " +
  "X-GitHub-Request-Id, Deprecation, Sunset";

function headers(
  rateLimitRemaining: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    server: "GitHub.com",
    date: "Fri, 12 Jan 2024 20:15:31 GMT",
    "content-type": "application/json; charset=utf-8",
    "x-github-media-type": "github.v3; format=json",
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": String(rateLimitRemaining),
    "x-ratelimit-reset": "1705093200",
    "x-ratelimit-used": String(5000 - rateLimitRemaining),
    "x-ratelimit-resource": "core",
    "access-control-expose-headers": EXPOSE_HEADERS,
    "x-github-request-id": "0400:2D5A:1B2C3D:4E5F6A:65A1B2C3",
    ...extra,
  };
}

/** 429 Too Many Requests, primary limit of an installation. */
export const tooManyRequests: GitHubResponseFixture = {
  status: 429,
  headers: headers(0),
  body: {
    message: "API rate limit exceeded for installation ID 12345678.",
    documentation_url:
      "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
    status: "429",
  },
};

/** 403 with `retry-after` (a secondary limit that says how long to wait). */
export const forbiddenWithRetryAfter: GitHubResponseFixture = {
  status: 403,
  headers: headers(4990, { "retry-after": "60" }),
  body: {
    message:
      "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    documentation_url:
      "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
    status: "403",
  },
};

/** 403 with the primary limit spent: `x-ratelimit-remaining: 0` and a reset time. */
export const forbiddenPrimaryLimit: GitHubResponseFixture = {
  status: 403,
  headers: headers(0),
  body: {
    message:
      "API rate limit exceeded for user ID 1234567. If you reach out to GitHub Support for help, please include the request ID 0400:2D5A:1B2C3D:4E5F6A:65A1B2C3 and timestamp 2024-01-12 20:15:31 UTC.",
    documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
    status: "403",
  },
};

/** 403 for a secondary limit with neither `retry-after` nor an empty primary quota. */
export const forbiddenSecondaryLimit: GitHubResponseFixture = {
  status: 403,
  headers: headers(4987),
  body: {
    message:
      "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0400:2D5A:1B2C3D:4E5F6A:65A1B2C3.",
    documentation_url:
      "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
    status: "403",
  },
};

/** The older wording of a secondary limit. */
export const forbiddenAbuseDetection: GitHubResponseFixture = {
  status: 403,
  headers: headers(4950),
  body: {
    message:
      "You have triggered an abuse detection mechanism. Please wait a few minutes before you try again.",
    documentation_url: "https://developer.github.com/v3/#abuse-rate-limits",
  },
};

/** A plain 403: a permission problem, quota left, no rate-limit signal. */
export const forbiddenPlain: GitHubResponseFixture = {
  status: 403,
  headers: headers(4999),
  body: {
    message: "Resource not accessible by integration",
    documentation_url: "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
    status: "403",
  },
};

/** 404 Not Found. */
export const notFound: GitHubResponseFixture = {
  status: 404,
  headers: headers(4998),
  body: {
    message: "Not Found",
    documentation_url: "https://docs.github.com/rest/issues/issues#get-an-issue",
    status: "404",
  },
};

/** 422 Unprocessable Entity: our request is invalid. */
export const validationFailed: GitHubResponseFixture = {
  status: 422,
  headers: headers(4997),
  body: {
    message: "Validation Failed",
    errors: [{ resource: "Issue", code: "missing_field", field: "title" }],
    documentation_url: "https://docs.github.com/rest/issues/issues#create-an-issue",
    status: "422",
  },
};

/** 500, 502 and 503 as GitHub returns them during incidents. */
export const serverErrors: readonly GitHubResponseFixture[] = [
  { status: 500, headers: headers(4996), body: { message: "Server Error" } },
  {
    status: 502,
    headers: { server: "GitHub.com", "content-type": "text/html" },
    body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
  },
  {
    status: 503,
    headers: headers(4995),
    body: { message: "Service Unavailable" },
  },
];
