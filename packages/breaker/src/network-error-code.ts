/** Error codes of Node sockets and DNS that mean "the network failed". */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);

/** Names of the `DOMException`s an aborted or timed-out request rejects with. */
const ABORT_NAMES: ReadonlySet<string> = new Set(["AbortError", "TimeoutError"]);

// fetch wraps the socket error in `TypeError("fetch failed", { cause })`; a few
// levels are enough for any wrapper seen in practice, and stop cycles.
const MAX_CAUSE_DEPTH = 8;

/** @internal The network code or abort name of one error, without its causes. */
export function ownNetworkErrorCode(candidate: Record<string, unknown>): string | undefined {
  const code = candidate.code;
  if (typeof code === "string" && (NETWORK_ERROR_CODES.has(code) || code.startsWith("UND_ERR_"))) {
    return code;
  }
  const name = candidate.name;
  return typeof name === "string" && ABORT_NAMES.has(name) ? name : undefined;
}

/**
 * Finds why a request failed below HTTP, in an error or its `cause` chain: a
 * Node socket or DNS code (`ECONNREFUSED`, `ENOTFOUND`, `EAI_AGAIN`,
 * `ECONNRESET`, `ETIMEDOUT`, `EPIPE`, …), an undici code (`UND_ERR_*`), or
 * the name of an abort (`AbortError`, `TimeoutError`). A caller that must tell
 * "the request never left" (a refused connection, a failed DNS lookup) from
 * "it may have arrived" (a reset, a timeout) reads it here; every one of them
 * classifies as `external`.
 * @param error - what was thrown.
 * @returns the code or abort name, or undefined when the failure is not a network one.
 * @example
 * ```ts
 * const error = await fetch("http://127.0.0.1:9/").catch((caught) => caught);
 * findNetworkErrorCode(error); // "ECONNREFUSED"
 * ```
 */
export function findNetworkErrorCode(error: unknown): string | undefined {
  let current = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    if (current === null || (typeof current !== "object" && typeof current !== "function")) {
      return undefined;
    }
    const candidate = current as Record<string, unknown>;
    // An HTTP answer is not a network failure, whatever its cause says.
    if (typeof candidate.status === "number" && typeof candidate.headers === "object")
      return undefined;
    const found = ownNetworkErrorCode(candidate);
    if (found !== undefined) return found;
    current = candidate.cause;
  }
  return undefined;
}
