/**
 * Redacts an Octokit error in place, so the caller still gets a
 * `RequestError` (its class, `status`, `response.status`) and the executor
 * still recognises it, but no secret is left in its message, stack, request
 * (URL, headers, body) or response (URL, data).
 * @param error - what a request threw.
 * @param redactor - the app's redactor.
 * @returns the same error.
 */
export function redactOctokitError<Thrown>(
  error: Thrown,
  redactor: { redactAny(value: unknown): unknown },
): Thrown {
  if (!(error instanceof Error) || typeof (error as { status?: unknown }).status !== "number") {
    return error;
  }
  const text = (value: unknown) => {
    const redacted = redactor.redactAny(value);
    return typeof redacted === "string" ? redacted : value;
  };
  rewrite(error, "message", text);
  rewrite(error, "stack", text);
  const { request, response } = error as { request?: unknown; response?: unknown };
  if (typeof request === "object" && request !== null) {
    rewrite(request, "url", text);
    rewrite(request, "headers", (value) => redactor.redactAny(value));
    rewrite(request, "body", (value) => redactor.redactAny(value));
  }
  if (typeof response === "object" && response !== null) {
    rewrite(response, "url", text);
    rewrite(response, "data", (value) => redactor.redactAny(value));
  }
  return error;
}

function rewrite(target: object, name: string, redact: (value: unknown) => unknown): void {
  const record = target as Record<string, unknown>;
  try {
    const value = record[name];
    if (value !== undefined) record[name] = redact(value);
  } catch {
    // A frozen or getter-only field is left as it is; the rest is still redacted.
  }
}
