import { classifyFailure, classifyGitHubResponse, type FailureClass } from "@beauvoir/breaker";
import { describeHttpFailure, isBeauvoirErrorWithCode, readHttpFailure } from "@beauvoir/core";

/**
 * How one failed attempt of a side effect ended, which decides what the
 * executor does next:
 *
 * - `not_sent`: refused before any effect could happen (a rate-limit answer,
 *   connection refused, a DNS failure, an open circuit, aborted before the
 *   request left). Retried; when attempts run out the key stays runnable.
 * - `rejected`: the remote answered that it did nothing (a 4xx other than a
 *   rate limit). Terminal: the key is marked failed.
 * - `ambiguous`: it may have happened (a 5xx, a timeout, a connection reset
 *   after the request left, anything unknown). Handled by the action's
 *   compensation strategy.
 */
export type FailureKind = "not_sent" | "rejected" | "ambiguous";

/** What the executor knows about one failed attempt. */
export interface AttemptFailure {
  /** What was thrown (or the non-2xx `Response` that was returned). */
  readonly error: unknown;
  readonly kind: FailureKind;
  /** The class the breaker counts it as. */
  readonly failureClass: FailureClass;
  /** The HTTP status, when the failure carries one. */
  readonly status: number | undefined;
  /** One line for the audit trail and the index (not yet redacted). */
  readonly description: string;
  /**
   * What to hand the rate limiter: the error itself, or for a `Response` its
   * status, headers and body text (a secondary limit is told apart by its message).
   */
  readonly rateLimitEvidence: unknown;
}

/** Socket and DNS errors raised before a request could reach the server. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_NONAME",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Statuses that say the request was not processed although it is a 4xx/5xx. */
const NOT_PROCESSED_STATUSES: ReadonlySet<number> = new Set([408, 425]);

const MAX_CAUSE_DEPTH = 8;
const MAX_BODY_CHARACTERS = 4_096;

/** How a step tells the executor what it knows better than the defaults. */
export interface FailureModelOverrides {
  /** The step's own failure kind; `undefined` falls back to the default rules. */
  failureKind?: ((error: unknown) => FailureKind | undefined) | undefined;
  /** The step's own breaker classification. */
  classify?: ((error: unknown) => FailureClass) | undefined;
}

/**
 * Classifies a failed attempt, by default as GitHub means its answers:
 * rate limits (`429`, a `403` with `retry-after`, `x-ratelimit-remaining: 0`
 * or a secondary-limit message) and `408`/`425` are `not_sent`, other 4xx
 * (`501` too) are `rejected`, other 5xx are `ambiguous`; connection refused,
 * DNS, TLS certificate and connect-timeout errors (undici's, and any system
 * error of `connect`, such as the kernel's `connect ETIMEDOUT`) are `not_sent`; resets,
 * broken pipes, timeouts and anything unrecognised are `ambiguous`. A step's
 * `failureKind` override is asked first.
 * @param error - what the attempt threw.
 * @param overrides - the step's `failureKind` and `classify`.
 * @returns the failure, with its breaker class and a one-line description.
 */
export async function classifyAttemptFailure(
  error: unknown,
  overrides: FailureModelOverrides = {},
): Promise<AttemptFailure> {
  const body = error instanceof Response ? await readBodyText(error) : undefined;
  const failureClass = overrides.classify
    ? safeClassify(overrides.classify, error)
    : error instanceof Response
      ? await classifyGitHubResponse(error)
      : classifyFailure(error);
  const status = readHttpFailure(error)?.status;
  const override = askOverride(overrides.failureKind, error);
  return {
    error,
    kind: override ?? defaultKind(error, failureClass, status),
    failureClass,
    status,
    description: describeFailure(error, body),
    rateLimitEvidence:
      error instanceof Response
        ? { status: error.status, headers: error.headers, body, url: error.url }
        : error,
  };
}

/** A step's override; one that throws or answers nonsense counts as `ambiguous`, the safe side. */
function askOverride(
  failureKind: FailureModelOverrides["failureKind"],
  error: unknown,
): FailureKind | undefined {
  if (!failureKind) return undefined;
  try {
    const kind = failureKind(error);
    if (kind === undefined || kind === "not_sent" || kind === "rejected") return kind;
    return "ambiguous";
  } catch {
    return "ambiguous";
  }
}

function defaultKind(error: unknown, failureClass: FailureClass, status: number | undefined) {
  if (isBeauvoirErrorWithCode(error, "CIRCUIT_OPEN")) return "not_sent";
  if (failureClass === "rate_limited") return "not_sent";
  if (status !== undefined) {
    if (NOT_PROCESSED_STATUSES.has(status)) return "not_sent";
    if ((status >= 400 && status < 500) || status === 501) return "rejected";
    return "ambiguous";
  }
  for (const code of codesOf(error)) {
    if (NOT_SENT_CODES.has(code)) return "not_sent";
  }
  if (failedToConnect(error)) return "not_sent";
  return "ambiguous";
}

/** System calls that fail before a connection exists, so before any byte of a request. */
const BEFORE_CONNECTION_SYSCALLS: ReadonlySet<string> = new Set(["connect", "getaddrinfo"]);

/**
 * Whether the error, or one in its `cause` chain, is a failed `connect` (a
 * kernel `connect ETIMEDOUT` among them, which a read timeout is not), or an
 * `AggregateError` of such failures (every address of a host tried in turn).
 */
function failedToConnect(error: unknown, depth = 0): boolean {
  if (depth >= MAX_CAUSE_DEPTH || typeof error !== "object" || error === null) return false;
  const syscall = safeGet(error, "syscall");
  if (typeof syscall === "string" && BEFORE_CONNECTION_SYSCALLS.has(syscall)) return true;
  const attempts = safeGet(error, "errors");
  if (Array.isArray(attempts) && attempts.length > 0) {
    return attempts.every((attempt) => failedToConnect(attempt, depth + 1));
  }
  return failedToConnect(safeGet(error, "cause"), depth + 1);
}

/** The `code` of an error and of each error in its `cause` chain. */
function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  let current = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    if (typeof current !== "object" || current === null) break;
    const code = safeGet(current, "code");
    if (typeof code === "string") codes.push(code);
    current = safeGet(current, "cause");
  }
  return codes;
}

/**
 * One line for anything a side effect threw: `HTTP <status> <METHOD> <url>:
 * <message>` for an HTTP failure (an Octokit error, a fetch `Response`, an
 * axios-like error), `<code>: <message>` or `<name>: <message>` for an error,
 * with the codes of its causes, and the text of anything else. Never throws;
 * not redacted.
 * @param error - what was thrown.
 * @param body - the body of a `Response`, when it was read (its `message` is used).
 * @returns the line.
 */
export function describeFailure(error: unknown, body?: string): string {
  try {
    const http = readHttpFailure(error);
    if (http) {
      // A Response's own message is only its status text; GitHub explains in the body.
      const message = messageFromBody(body) ?? http.message;
      return describeHttpFailure(message === undefined ? http : { ...http, message });
    }
    if (error instanceof Error) {
      const code = safeGet(error, "code");
      const head = typeof code === "string" ? code : error.name;
      const causes = codesOf(safeGet(error, "cause"));
      const message = String(safeGet(error, "message") ?? "");
      const line = message === "" ? head : `${head}: ${message}`;
      return causes.length === 0 ? line : `${line} (cause: ${causes.join(", ")})`;
    }
    return typeof error === "string" ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    return "unknown error (it could not be described)";
  }
}

/** Reads the body of a failed `Response` from a clone, so the caller can still read it. */
async function readBodyText(response: Response): Promise<string | undefined> {
  try {
    const text = await response.clone().text();
    return text.slice(0, MAX_BODY_CHARACTERS);
  } catch {
    return undefined;
  }
}

function messageFromBody(body: string | undefined): string | undefined {
  if (body === undefined || body === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    const message = (parsed as { message?: unknown } | null)?.message;
    if (typeof message === "string") return message;
  } catch {
    // Not JSON: the text itself, trimmed, says what went wrong.
  }
  return body.trim().slice(0, 200);
}

function safeClassify(classify: (error: unknown) => FailureClass, error: unknown): FailureClass {
  try {
    return classify(error);
  } catch {
    return "transient";
  }
}

function safeGet(subject: object, name: string): unknown {
  try {
    return (subject as Record<string, unknown>)[name];
  } catch {
    return undefined;
  }
}
