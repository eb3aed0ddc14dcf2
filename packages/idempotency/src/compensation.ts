import type { CompensationStrategy } from "./entry.js";

/**
 * The compensation strategy of each known action (design notes, F6). Actions
 * not listed use `skip`: when in doubt, never repeat a side effect.
 *
 * @example
 * ```ts
 * DEFAULT_COMPENSATION.create_branch; // "safe_retry"
 * ```
 */
export const DEFAULT_COMPENSATION: Readonly<Record<string, CompensationStrategy>> = Object.freeze({
  create_branch: "safe_retry",
  create_pull_request: "check_then_retry",
  add_issue_comment: "check_then_retry",
  update_pull_request: "safe_retry",
  add_labels: "safe_retry",
  create_review: "check_then_retry",
});

const STRATEGIES: ReadonlySet<string> = new Set<CompensationStrategy>([
  "safe_retry",
  "check_then_retry",
  "skip",
]);

/**
 * @param value - anything.
 * @returns true when `value` names a {@link CompensationStrategy}.
 */
export function isCompensationStrategy(value: unknown): value is CompensationStrategy {
  return typeof value === "string" && STRATEGIES.has(value);
}

/**
 * Merges a caller's table over {@link DEFAULT_COMPENSATION}; an entry set to
 * `undefined` removes the default for that action.
 * @param overrides - the caller's table.
 * @returns a frozen table.
 * @throws TypeError naming the action whose strategy is not one of the three.
 */
export function buildCompensationTable(
  overrides: Partial<Record<string, CompensationStrategy>> | undefined,
): Readonly<Record<string, CompensationStrategy>> {
  const table: Record<string, CompensationStrategy> = { ...DEFAULT_COMPENSATION };
  if (overrides === undefined) return Object.freeze(table);
  if (typeof overrides !== "object" || overrides === null) {
    throw new TypeError("compensation must be an object mapping action names to strategies");
  }
  for (const [action, strategy] of Object.entries(overrides)) {
    if (strategy === undefined) {
      delete table[action];
      continue;
    }
    if (!isCompensationStrategy(strategy)) {
      throw new TypeError(
        `compensation.${action} must be "safe_retry", "check_then_retry" or "skip" (got ${JSON.stringify(strategy)})`,
      );
    }
    table[action] = strategy;
  }
  return Object.freeze(table);
}
