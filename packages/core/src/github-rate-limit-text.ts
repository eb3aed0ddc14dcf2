// GitHub bodies are small JSON documents; a huge body is not worth scanning whole.
const MAX_BODY_SCAN = 64 * 1024;

/**
 * Tells whether a response body (or an error message quoting it) says that a
 * secondary rate limit, or its older name "abuse detection", was hit. GitHub
 * answers such a limit with a `403` that may carry no rate-limit header, so
 * the text is the only sign; `@beauvoir/breaker` and `@beauvoir/rate-limiter`
 * both read it here.
 * @param body - parsed JSON (`{ message, documentation_url }`), text, bytes,
 *   or a list of those; anything else counts as no text.
 * @returns true when the text mentions it, in any case, with spaces, hyphens
 *   or underscores between the words (only the first 64 KiB are read).
 * @example
 * ```ts
 * mentionsSecondaryRateLimit({ message: "You have exceeded a secondary rate limit." }); // true
 * mentionsSecondaryRateLimit("Resource not accessible by integration"); // false
 * ```
 */
export function mentionsSecondaryRateLimit(body: unknown): boolean {
  const text = bodyText(body, 0);
  if (text === "") return false;
  // "secondary rate limit", "secondary-rate-limits" (documentation URLs), "Abuse Detection".
  const normalized = text.toLowerCase().replace(/[\s_-]+/g, " ");
  return (
    normalized.includes("secondary rate limit") ||
    normalized.includes("abuse detection") ||
    normalized.includes("abuse rate limit")
  );
}

function bodyText(body: unknown, depth: number): string {
  if (typeof body === "string") return body.slice(0, MAX_BODY_SCAN);
  if (body instanceof Uint8Array) {
    return new TextDecoder().decode(body.subarray(0, MAX_BODY_SCAN));
  }
  if (body === null || typeof body !== "object" || depth > 2) return "";
  if (Array.isArray(body)) {
    return body.map((part) => bodyText(part, depth + 1)).join(" ");
  }
  // GitHub's error document: { message, documentation_url, errors? }.
  const { message, documentation_url: documentationUrl } = body as Record<string, unknown>;
  return [message, documentationUrl]
    .filter((part): part is string => typeof part === "string")
    .join(" ")
    .slice(0, MAX_BODY_SCAN);
}
