/**
 * Response headers in any of the shapes HTTP clients hand out: a fetch
 * `Headers` (or anything with a `get(name)` method), Node's
 * `IncomingHttpHeaders`, Octokit's `response.headers`, or a plain object.
 * Names are matched without regard to case.
 */
export type HeadersLike =
  | Headers
  | { get(name: string): string | null | undefined }
  | Readonly<Record<string, string | readonly string[] | number | null | undefined>>;

/**
 * Reads one header, case-insensitively, as a trimmed string.
 * @param headers - the headers, or nothing.
 * @param name - the header name, in lower case.
 * @returns the value (the first one when repeated), or undefined when absent,
 *   empty, or a number that is not finite.
 * @example
 * ```ts
 * readHeader({ "Retry-After": "60" }, "retry-after"); // "60"
 * readHeader(response.headers, "x-ratelimit-remaining");
 * ```
 */
export function readHeader(
  headers: HeadersLike | null | undefined,
  name: string,
): string | undefined {
  if (headers === null || typeof headers !== "object") return undefined;
  const getter = (headers as { get?: unknown }).get;
  if (typeof getter === "function") {
    return normalize((getter as (name: string) => unknown).call(headers, name));
  }
  const record = headers as Record<string, unknown>;
  // Node and Octokit already lower-case names; the loop is for hand-made objects.
  if (Object.hasOwn(record, name)) return normalize(record[name]);
  for (const key of Object.keys(record)) {
    if (key.toLowerCase() === name) return normalize(record[key]);
  }
  return undefined;
}

function normalize(value: unknown): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first === "number") return Number.isFinite(first) ? String(first) : undefined;
  if (typeof first !== "string") return undefined;
  const trimmed = first.trim();
  return trimmed === "" ? undefined : trimmed;
}
