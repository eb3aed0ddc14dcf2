/**
 * Text for a failure passed to `recordResult()` or a denial's reason: an
 * `Error` as `Name: message`, a string as is, anything else as `String()`
 * gives it. Never throws: a `name` or `message` getter that throws, a proxy
 * that throws on every access, or a `toString` that throws each give a
 * placeholder instead, so the record is still written.
 * @param failure - what the caller passed.
 * @returns a description of it.
 */
export function describeFailure(failure: unknown): string {
  if (typeof failure === "string") return failure;
  if (isError(failure)) {
    const name = readText(() => failure.name, "Error");
    const message = readText(() => failure.message, "[message unreadable]");
    return `${name}: ${message}`;
  }
  return readText(() => String(failure), "[unprintable value]");
}

function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    // A proxy whose getPrototypeOf trap throws.
    return false;
  }
}

function readText(read: () => unknown, fallback: string): string {
  try {
    const value = read();
    return typeof value === "string" ? value : String(value);
  } catch {
    return fallback;
  }
}
