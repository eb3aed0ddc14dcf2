/**
 * The hidden line a write carries so that a later lookup recognises it:
 * `<!-- beauvoir:<key> -->`, an HTML comment GitHub renders as nothing.
 */

const ANY_MARKER = /\n*<!-- beauvoir:\S*? -->/g;

/** The key as it is written in a marker: no space, and nothing that could close the comment. */
function encodeKey(key: string): string {
  return key
    .replace(/[^A-Za-z0-9:/._~@#=+-]/g, (character) => encodeURIComponent(character))
    .replace(/--/g, "-%2D");
}

/**
 * @param key - the step's idempotency key.
 * @returns `<!-- beauvoir:<key> -->`.
 */
export function markerOf(key: string): string {
  return `<!-- beauvoir:${encodeKey(key)} -->`;
}

/**
 * A body text with the step's marker as its last line, and no other
 * Beauvoir marker (one copied from an earlier comment would let a lookup
 * mistake this write for that one).
 * @param text - the caller's body; anything but a string counts as empty.
 * @param key - the step's idempotency key.
 */
export function withMarker(text: unknown, key: string): string {
  const own = typeof text === "string" ? stripMarkers(text).trimEnd() : "";
  return own === "" ? markerOf(key) : `${own}\n\n${markerOf(key)}`;
}

/** A text without any Beauvoir marker. */
export function stripMarkers(text: string): string {
  return text.replace(ANY_MARKER, "");
}

/** Whether `text` carries the marker of `key`. */
export function hasMarker(text: unknown, key: string): boolean {
  return typeof text === "string" && text.includes(markerOf(key));
}
