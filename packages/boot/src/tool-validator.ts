import { InvalidToolPolicyError } from "./errors.js";

/**
 * The constraints one tool parameter must meet. Several kinds may be combined;
 * each one is checked.
 */
export interface ParamConstraint {
  /** The parameter must equal this value exactly (deep equality for objects and arrays). */
  must_be?: unknown | undefined;
  /**
   * The parameter must be a string matching this regular expression (source
   * text, compiled once), or a non-empty array of such strings.
   */
  pattern?: string | undefined;
  /** Flags for `pattern`, e.g. `"i"`. @default "" */
  flags?: string | undefined;
  /**
   * The parameter must equal one of these values, or be an array whose every
   * element does (`labels: ["bug"]` against `["bug", "triage"]`).
   */
  allowlist?: readonly unknown[] | undefined;
}

/** What a policy says about one tool. */
export interface ToolPolicy {
  /** Per-parameter constraints; parameters not listed are not checked. */
  constraints?: Readonly<Record<string, ParamConstraint>> | undefined;
}

/** The action policy: every tool the app may call, with its parameter constraints. */
export interface ActionPolicy {
  /** Tool name → policy. */
  tools: Readonly<Record<string, ToolPolicy>>;
}

/** The outcome of {@link ToolValidator.validateRegistry}. */
export interface RegistryValidation {
  /** False when `errors` is not empty. */
  valid: boolean;
  /** Tools named by the policy that the registry does not offer (boot fails on these). */
  errors: string[];
  /** Tools the registry offers that the policy does not mention (they cannot be called). */
  warnings: string[];
}

/** One broken constraint, from {@link ToolValidator.validateParams}. */
export interface ParamViolation {
  /** The tool called. */
  tool: string;
  /** The offending parameter; `undefined` for `unknown_tool`. */
  param: string | undefined;
  /** Which rule was broken. */
  constraint: "must_be" | "pattern" | "allowlist" | "unknown_tool";
  /** A readable explanation. */
  message: string;
}

interface CompiledConstraint {
  readonly param: string;
  readonly mustBe: { value: unknown } | undefined;
  readonly pattern: RegExp | undefined;
  readonly allowlist: readonly unknown[] | undefined;
}

/**
 * Checks, at boot, that the action policy and the tool registry agree, and, at
 * call time, that a tool's parameters meet the policy's constraints
 * (`must_be`, `pattern`, `allowlist`). Patterns are compiled once, in the
 * constructor, so a bad one fails at boot rather than on the first call.
 *
 * @example
 * ```ts
 * const validator = new ToolValidator({
 *   tools: { add_issue_comment: { constraints: { owner: { must_be: "acme" }, repo: { pattern: "^[a-z-]+$" } } } },
 * });
 * validator.validateRegistry(["add_issue_comment", "delete_repo"]); // valid, warning for delete_repo
 * validator.validateParams("add_issue_comment", { owner: "evil", repo: "x" }); // one must_be violation
 * ```
 */
export class ToolValidator {
  readonly #tools = new Map<string, readonly CompiledConstraint[]>();

  /**
   * @param policy - the action policy.
   * @throws {@link InvalidToolPolicyError} for a pattern that does not compile,
   *   an `allowlist` that is not an array, or a malformed policy.
   */
  constructor(policy: ActionPolicy) {
    if (
      typeof policy !== "object" ||
      policy === null ||
      typeof policy.tools !== "object" ||
      policy.tools === null
    ) {
      throw new TypeError("policy.tools must be an object mapping tool names to policies");
    }
    for (const [toolName, toolPolicy] of Object.entries(policy.tools)) {
      this.#tools.set(toolName, compileTool(toolName, toolPolicy));
    }
  }

  /** @returns the tool names the policy knows, in policy order. */
  get toolNames(): string[] {
    return [...this.#tools.keys()];
  }

  /**
   * Cross-checks the policy against the tools actually registered.
   * @param toolNames - the names the tool registry (e.g. an MCP server) offers.
   * @returns `errors` for policy tools missing from the registry, `warnings`
   *   for registered tools the policy does not cover.
   * @example
   * ```ts
   * const { valid, errors } = validator.validateRegistry(registry.list());
   * if (!valid) throw new Error(errors.join("\n"));
   * ```
   */
  validateRegistry(toolNames: Iterable<string>): RegistryValidation {
    const registered = new Set(toolNames);
    const errors: string[] = [];
    const warnings: string[] = [];
    for (const name of this.#tools.keys()) {
      if (!registered.has(name)) {
        errors.push(`Tool "${name}" is in the action policy but not in the tool registry`);
      }
    }
    for (const name of registered) {
      if (!this.#tools.has(name)) {
        warnings.push(
          `Tool "${name}" is registered but not in the action policy; it cannot be called`,
        );
      }
    }
    return { valid: errors.length === 0, errors, warnings };
  }

  /**
   * Checks one call's parameters against the policy.
   * @param toolName - the tool about to be called.
   * @param params - its parameters.
   * @returns every violation; empty when the call is allowed.
   * @example
   * ```ts
   * const violations = validator.validateParams("add_labels", { owner: "acme", labels: ["bug"] });
   * if (violations.length > 0) throw new Error(violations[0].message);
   * ```
   */
  validateParams(toolName: string, params: Readonly<Record<string, unknown>>): ParamViolation[] {
    const constraints = this.#tools.get(toolName);
    if (!constraints) {
      return [
        {
          tool: toolName,
          param: undefined,
          constraint: "unknown_tool",
          message: `Tool "${toolName}" is not in the action policy`,
        },
      ];
    }
    const violations: ParamViolation[] = [];
    for (const constraint of constraints) {
      const present = Object.hasOwn(params, constraint.param);
      const value = present ? params[constraint.param] : undefined;
      const shown = present ? JSON.stringify(value) : "missing";
      const violation = (kind: ParamViolation["constraint"], expectation: string) =>
        violations.push({
          tool: toolName,
          param: constraint.param,
          constraint: kind,
          message: `${toolName}.${constraint.param} ${expectation}, got ${shown}`,
        });
      if (constraint.mustBe && !(present && deepEqual(value, constraint.mustBe.value))) {
        violation("must_be", `must be ${JSON.stringify(constraint.mustBe.value)}`);
      }
      if (constraint.pattern && !eachMatches(value, constraint.pattern)) {
        violation(
          "pattern",
          `must be a string matching /${constraint.pattern.source}/${constraint.pattern.flags}`,
        );
      }
      if (constraint.allowlist && !(present && isAllowed(value, constraint.allowlist))) {
        violation("allowlist", `must be one of ${JSON.stringify(constraint.allowlist)}`);
      }
    }
    return violations;
  }
}

function compileTool(toolName: string, toolPolicy: ToolPolicy): CompiledConstraint[] {
  if (typeof toolPolicy !== "object" || toolPolicy === null) {
    throw new InvalidToolPolicyError(toolName, undefined, "the tool policy must be an object");
  }
  const compiled: CompiledConstraint[] = [];
  for (const [param, constraint] of Object.entries(toolPolicy.constraints ?? {})) {
    if (typeof constraint !== "object" || constraint === null) {
      throw new InvalidToolPolicyError(toolName, param, "a constraint must be an object");
    }
    let pattern: RegExp | undefined;
    if (constraint.pattern !== undefined) {
      if (typeof constraint.pattern !== "string") {
        throw new InvalidToolPolicyError(toolName, param, "pattern must be a string");
      }
      // The g and y flags make test() stateful (lastIndex), which would make
      // one call's verdict depend on the previous call.
      const flags = (constraint.flags ?? "").replace(/[gy]/g, "");
      try {
        pattern = new RegExp(constraint.pattern, flags);
      } catch (error) {
        throw new InvalidToolPolicyError(
          toolName,
          param,
          `pattern ${JSON.stringify(constraint.pattern)} does not compile: ${(error as Error).message}`,
          error,
        );
      }
    }
    if (constraint.allowlist !== undefined && !Array.isArray(constraint.allowlist)) {
      throw new InvalidToolPolicyError(toolName, param, "allowlist must be an array");
    }
    compiled.push({
      param,
      mustBe: Object.hasOwn(constraint, "must_be") ? { value: constraint.must_be } : undefined,
      pattern,
      allowlist: constraint.allowlist,
    });
  }
  return compiled;
}

function deepEqual(left: unknown, right: unknown): boolean {
  if (Object.is(left, right)) return true;
  if (typeof left !== "object" || typeof right !== "object" || left === null || right === null) {
    return false;
  }
  if (Array.isArray(left) !== Array.isArray(right)) return false;
  const leftKeys = Object.keys(left);
  const rightKeys = Object.keys(right);
  if (leftKeys.length !== rightKeys.length) return false;
  return leftKeys.every(
    (key) =>
      Object.hasOwn(right, key) &&
      deepEqual((left as Record<string, unknown>)[key], (right as Record<string, unknown>)[key]),
  );
}

/** A string matching the pattern, or a non-empty array of them (labels, assignees). */
function eachMatches(value: unknown, pattern: RegExp): boolean {
  const matches = (item: unknown) => typeof item === "string" && pattern.test(item);
  return Array.isArray(value) ? value.length > 0 && value.every(matches) : matches(value);
}

/** One of the allowed values itself, or an array of allowed values. */
function isAllowed(value: unknown, allowlist: readonly unknown[]): boolean {
  const listed = (item: unknown) => allowlist.some((allowed) => deepEqual(item, allowed));
  return listed(value) || (Array.isArray(value) && value.every(listed));
}
