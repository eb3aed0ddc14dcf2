/**
 * An options type with every field set: what remains once the defaults
 * filled what the caller left out or gave as `undefined`.
 */
export type Defined<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

/**
 * A copy of `value` without its `undefined` fields, so that
 * `{ ...DEFAULTS, ...definedFields(options) }` keeps a default when an
 * option is given as `undefined` (as `exactOptionalPropertyTypes` code and
 * `process.env.X` do), instead of overwriting it.
 * @param value - the caller's options, or `undefined`.
 * @returns the fields that are set.
 * @example
 * ```ts
 * const retry = { ...RETRY_DEFAULTS, ...definedFields({ maxAttempts: undefined }) };
 * retry.maxAttempts; // the default
 * ```
 */
export function definedFields<T extends object>(
  value: T | undefined,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  if (value === undefined || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/**
 * For type tests: the optional keys of `T` that do not accept `undefined`
 * when compiled with `exactOptionalPropertyTypes` (always `never` without
 * it). Options objects should have none, so that `{ key: process.env.X }`
 * typechecks under that flag.
 * @example
 * ```ts
 * expectTypeOf<OptionalKeysRejectingUndefined<AuditTrailOptions>>().toEqualTypeOf<never>();
 * ```
 */
export type OptionalKeysRejectingUndefined<T> = {
  // biome-ignore lint/complexity/noBannedTypes: `{}` is the empty object a Pick of only optional keys matches.
  [K in keyof T]-?: {} extends Pick<T, K>
    ? { [P in K]: undefined } extends Pick<T, K>
      ? never
      : K
    : never;
}[keyof T];
