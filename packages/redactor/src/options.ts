import { BUILT_IN_SECRET_PATTERNS } from "./secret-patterns.js";

/** A caller's own secret format, with the name its placeholder carries. */
export interface ExtraSecretPattern {
  /** Placeholder name (`[REDACTED:<name>]`): 1-64 letters, digits, `.`, `_` or `-`. */
  name: string;
  /**
   * A global RegExp. With a named group `secret`, only that group is replaced.
   * Keep it linear: bounded repetitions and a literal start, like the built-ins.
   */
  pattern: RegExp;
}

/** Options of {@link SecretRedactor}. */
export interface SecretRedactorOptions {
  /**
   * More secret formats, applied before the built-in patterns so their
   * placeholders win. A bare RegExp gets the placeholder `[REDACTED:custom]`.
   * @default []
   */
  extraPatterns?: ReadonlyArray<RegExp | ExtraSecretPattern> | undefined;
  /**
   * How many levels of objects `redactAny` and `redactError` walk into; a
   * deeper object becomes `"[MaxDepth]"`. An integer from 1 to 1000.
   * @default 10
   */
  maxDepth?: number | undefined;
  /**
   * Names of built-in patterns to turn off (see `BUILT_IN_SECRET_PATTERNS`),
   * for a format that collides with your data.
   * @default []
   */
  disabledPatterns?: readonly string[] | undefined;
  /**
   * More object keys whose values are replaced whole, compared in lower case
   * without `-`, `_`, `.` (so `"session-id"` also covers `sessionId`). The
   * placeholder carries the normalised key: `[REDACTED:sessionid]`.
   * @default []
   */
  sensitiveKeys?: readonly string[] | undefined;
}

/** Defaults applied to every {@link SecretRedactorOptions}. */
export const SECRET_REDACTOR_DEFAULTS = Object.freeze({
  extraPatterns: Object.freeze([]) as readonly never[],
  maxDepth: 10,
  disabledPatterns: Object.freeze([]) as readonly never[],
  sensitiveKeys: Object.freeze([]) as readonly never[],
});

/** The options after defaults and checks. */
export interface ResolvedSecretRedactorOptions {
  readonly extraPatterns: readonly unknown[];
  readonly maxDepth: number;
  readonly disabledPatterns: ReadonlySet<string>;
  readonly sensitiveKeys: readonly string[];
}

const BUILT_IN_NAMES = new Set(BUILT_IN_SECRET_PATTERNS.map((pattern) => pattern.name));

function arrayOption(value: unknown, option: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${option} must be an array, got ${typeof value}`);
  return value;
}

/**
 * Merges `options` with {@link SECRET_REDACTOR_DEFAULTS} and checks them.
 * @throws TypeError or RangeError naming the option at fault.
 */
export function resolveSecretRedactorOptions(
  options: SecretRedactorOptions | undefined,
): ResolvedSecretRedactorOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`SecretRedactor options must be an object, got ${String(options)}`);
  }
  const defaults = SECRET_REDACTOR_DEFAULTS;
  const maxDepth: unknown = options?.maxDepth ?? defaults.maxDepth;
  if (
    typeof maxDepth !== "number" ||
    !Number.isInteger(maxDepth) ||
    maxDepth < 1 ||
    maxDepth > 1000
  ) {
    throw new RangeError(`maxDepth must be an integer from 1 to 1000, got ${String(maxDepth)}`);
  }
  const disabled = arrayOption(
    options?.disabledPatterns ?? defaults.disabledPatterns,
    "disabledPatterns",
  );
  for (const name of disabled) {
    if (typeof name !== "string" || !BUILT_IN_NAMES.has(name)) {
      throw new RangeError(
        `disabledPatterns: ${String(name)} is not a built-in pattern (${[...BUILT_IN_NAMES].join(", ")})`,
      );
    }
  }
  const sensitiveKeys = arrayOption(
    options?.sensitiveKeys ?? defaults.sensitiveKeys,
    "sensitiveKeys",
  );
  sensitiveKeys.forEach((key, index) => {
    if (
      typeof key !== "string" ||
      !/^[a-z0-9]{1,64}$/.test(key.toLowerCase().replace(/[-_.\s]/g, ""))
    ) {
      throw new TypeError(
        `sensitiveKeys[${index}] must be a key name of letters and digits (with - _ .), got ${String(key)}`,
      );
    }
  });
  return {
    extraPatterns: arrayOption(options?.extraPatterns ?? defaults.extraPatterns, "extraPatterns"),
    maxDepth,
    disabledPatterns: new Set(disabled as string[]),
    sensitiveKeys: sensitiveKeys as string[],
  };
}
