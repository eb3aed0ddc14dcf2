import type { HeadersLike } from "./headers.js";

/** What an HTTP answer tells about a failure, whatever client produced it. */
export interface HttpFailure {
  /** The HTTP status code. */
  readonly status: number;
  /** The response headers; an empty object when the value carried none. */
  readonly headers: HeadersLike;
  /** The request method, upper-cased, when known. */
  readonly method?: string;
  /** The request URL, when known. Not redacted. */
  readonly url?: string;
  /** The error's own message, or the response's status text, when there is one. */
  readonly message?: string;
}

/**
 * Reads the status, headers, method and URL out of the shapes HTTP clients
 * throw or return: an Octokit `RequestError` (`status`, `response.headers`,
 * `request.method`, `request.url`), a fetch `Response`, an error or object
 * with `response: { status, headers }` (axios, got), or any object with a
 * numeric `status` or `statusCode`.
 * @param value - what a side effect threw or returned.
 * @returns the failure, or undefined when `value` carries no HTTP status.
 * @example
 * ```ts
 * const failure = readHttpFailure(await fetch(url)); // { status: 502, headers, url }
 * ```
 */
export function readHttpFailure(value: unknown): HttpFailure | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const subject = value as Record<string, unknown>;
  const response = asObject(safeGet(subject, "response"));
  const request = asObject(safeGet(subject, "request"));
  const config = asObject(safeGet(subject, "config"));
  const status =
    asStatus(safeGet(subject, "status")) ??
    asStatus(safeGet(subject, "statusCode")) ??
    asStatus(response && safeGet(response, "status")) ??
    asStatus(response && safeGet(response, "statusCode"));
  if (status === undefined) return undefined;
  const headers =
    asHeaders(safeGet(subject, "headers")) ??
    asHeaders(response && safeGet(response, "headers")) ??
    {};
  const method =
    asText(request && safeGet(request, "method")) ?? asText(config && safeGet(config, "method"));
  const url =
    asText(request && safeGet(request, "url")) ??
    asText(safeGet(subject, "url")) ??
    asText(response && safeGet(response, "url")) ??
    asText(config && safeGet(config, "url"));
  const message =
    value instanceof Error
      ? value.message
      : (asText(safeGet(subject, "message")) ?? asText(safeGet(subject, "statusText")));
  return {
    status,
    headers,
    ...(method === undefined ? {} : { method: method.toUpperCase() }),
    ...(url === undefined ? {} : { url }),
    ...(message === undefined || message === "" ? {} : { message }),
  };
}

/**
 * One line for an HTTP failure: `HTTP <status> <METHOD> <url>: <message>`,
 * leaving out what is unknown. The URL is not redacted: pass the line
 * through a redactor before it is stored or logged.
 * @param failure - from {@link readHttpFailure}.
 * @returns the line.
 * @example
 * ```ts
 * describeHttpFailure({ status: 502, headers: {}, method: "POST", url: "https://api.github.com/x" });
 * // "HTTP 502 POST https://api.github.com/x"
 * ```
 */
export function describeHttpFailure(failure: HttpFailure): string {
  const request = [failure.method, failure.url].filter((part) => part !== undefined).join(" ");
  const head = request === "" ? `HTTP ${failure.status}` : `HTTP ${failure.status} ${request}`;
  return failure.message === undefined ? head : `${head}: ${failure.message}`;
}

/** Reads a property without letting a throwing getter escape. */
function safeGet(subject: object, name: string): unknown {
  try {
    return (subject as Record<string, unknown>)[name];
  } catch {
    return undefined;
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null
    ? (value as Record<string, unknown>)
    : undefined;
}

function asStatus(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 100 && value <= 599
    ? value
    : undefined;
}

function asText(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function asHeaders(value: unknown): HeadersLike | undefined {
  return typeof value === "object" && value !== null ? (value as HeadersLike) : undefined;
}
