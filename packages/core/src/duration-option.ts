/** Options of {@link assertDurationOption}. */
export interface DurationOptionRules {
  /** Whether `Infinity` (no limit) is accepted. @default true */
  allowInfinity?: boolean | undefined;
}

/**
 * Checks an option that holds a number of milliseconds: a number, not NaN, not
 * negative, and finite unless `allowInfinity`. Every package validates its
 * duration options with it, so they all refuse the same values the same way.
 * @param value - the value the caller gave.
 * @param option - the option's name, for the message.
 * @param rules - `allowInfinity`.
 * @returns the value, as a number.
 * @throws RangeError naming the option.
 * @example
 * ```ts
 * const maxHoldMs = assertDurationOption(options.maxHoldMs ?? 60_000, "maxHoldMs");
 * ```
 */
export function assertDurationOption(
  value: unknown,
  option: string,
  rules: DurationOptionRules = {},
): number {
  const allowInfinity = rules.allowInfinity ?? true;
  if (
    typeof value !== "number" ||
    Number.isNaN(value) ||
    value < 0 ||
    (!allowInfinity && !Number.isFinite(value))
  ) {
    throw new RangeError(
      `${option} must be a non-negative ${allowInfinity ? "" : "finite "}number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}
