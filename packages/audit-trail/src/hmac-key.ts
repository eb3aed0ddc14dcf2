/**
 * Turns an HMAC key option into bytes: a string is used as UTF-8, a
 * `Uint8Array` as is (copied, so later changes by the caller do not apply).
 * @throws TypeError for another type, RangeError for an empty key.
 */
export function toKeyBytes(key: unknown, option: string): Uint8Array {
  let bytes: Uint8Array;
  if (typeof key === "string") bytes = Buffer.from(key, "utf8");
  else if (key instanceof Uint8Array) bytes = Uint8Array.from(key);
  else throw new TypeError(`${option} must be a string or a Uint8Array`);
  if (bytes.length === 0) throw new RangeError(`${option} must not be empty`);
  return bytes;
}
