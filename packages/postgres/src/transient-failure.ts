/**
 * SQLSTATEs after which the statement certainly did not commit, or the
 * connection is gone so its outcome is unknown: resending an idempotent
 * statement is the way to find out.
 * - class 08: connection exceptions;
 * - 40001, 40P01: serialization failure, deadlock (rolled back);
 * - 55P03: lock_timeout (rolled back);
 * - 57014: statement_timeout or cancel (rolled back);
 * - 57P01–57P05: the server is shutting down, crashed, starting, or the session was idle too long;
 * - 53300, 53400: too many connections, configuration limit exceeded;
 * - 25P03: idle_in_transaction_session_timeout.
 */
const TRANSIENT_SQLSTATES = new Set([
  "40001",
  "40P01",
  "55P03",
  "57014",
  "57P01",
  "57P02",
  "57P03",
  "57P04",
  "57P05",
  "53300",
  "53400",
  "25P03",
]);

const TRANSIENT_ERRNOS = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
]);

/** Messages node-postgres and pg-pool use for a connection that is gone or silent. */
const TRANSIENT_MESSAGES = [
  "Connection terminated",
  "Query read timeout",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error",
  "Client was closed and is not queryable",
  "Connection ended",
  "the database system is",
];

/** A query or connection wait that this package ended itself. */
export class QueryTimeoutError extends Error {
  override readonly name = "QueryTimeoutError";

  /** @param timeoutMs - how long it waited. */
  constructor(timeoutMs: number) {
    super(`No reply within ${timeoutMs} ms`);
  }
}

/**
 * Tells whether a failure of a statement leaves it worth sending again: the
 * connection broke, the reply never came, the server was restarting, or the
 * server rolled the statement back for a reason that may pass (timeouts,
 * deadlocks). A constraint violation or a syntax error is not transient.
 * @param error - what the query rejected with.
 * @returns true when resending may succeed.
 */
export function isTransientFailure(error: unknown): boolean {
  if (error instanceof QueryTimeoutError) return true;
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === "string") {
    if (code.startsWith("08") || TRANSIENT_SQLSTATES.has(code) || TRANSIENT_ERRNOS.has(code)) {
      return true;
    }
  }
  if (typeof message === "string" && TRANSIENT_MESSAGES.some((text) => message.includes(text))) {
    return true;
  }
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isTransientFailure(cause);
}
