/** The levels of Octokit's `log`. */
const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** What of the redactor the log needs (strings are redacted by it too). */
interface LogRedactor {
  redactAny(value: unknown): unknown;
}

/**
 * Makes Octokit's own `log` redacted: `@octokit/rest` logs every request's
 * method and URL (a token in a query string with it) and `@octokit/core`
 * logs request options at `debug`. The methods are replaced on the log object
 * itself, as Octokit's plugins look them up on it at each call; what they are
 * given is redacted before it reaches the user's log.
 * @param octokit - the instance whose `log` to redact (left as is without one).
 * @param redactor - the app's redactor.
 */
export function redactOctokitLog(octokit: object, redactor: LogRedactor): void {
  const log = (octokit as { log?: unknown }).log as Record<string, unknown> | undefined;
  if (typeof log !== "object" || log === null) return;
  for (const level of LOG_LEVELS) {
    const write = log[level];
    if (typeof write !== "function") continue;
    log[level] = (...data: unknown[]) =>
      write.apply(
        log,
        data.map((item) => redactor.redactAny(item)),
      );
  }
}
