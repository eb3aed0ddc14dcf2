import { describe, expect, it } from "vitest";
import { InvalidToolPolicyError } from "./errors.js";
import { ToolValidator } from "./tool-validator.js";

const policy = {
  tools: {
    add_issue_comment: {
      constraints: {
        owner: { must_be: "acme" },
        repo: { pattern: "^[a-z][a-z0-9-]*$" },
        visibility: { allowlist: ["public", "internal"] },
      },
    },
    add_labels: { constraints: { labels: { must_be: ["bug", "triage"] } } },
    get_issue: {},
  },
};

describe("ToolValidator.validateRegistry", () => {
  it("accepts a registry that offers every policy tool", () => {
    const validator = new ToolValidator(policy);
    expect(validator.validateRegistry(["add_issue_comment", "add_labels", "get_issue"])).toEqual({
      valid: true,
      errors: [],
      warnings: [],
    });
  });

  it("rejects policy tools missing from the registry and warns about unlisted ones", () => {
    const validator = new ToolValidator(policy);
    const verdict = validator.validateRegistry(["add_issue_comment", "get_issue", "delete_repo"]);
    expect(verdict.valid).toBe(false);
    expect(verdict.errors).toHaveLength(1);
    expect(verdict.errors[0]).toContain('"add_labels"');
    expect(verdict.warnings).toHaveLength(1);
    expect(verdict.warnings[0]).toContain('"delete_repo"');
  });

  it("lists the policy's tools", () => {
    expect(new ToolValidator(policy).toolNames).toEqual([
      "add_issue_comment",
      "add_labels",
      "get_issue",
    ]);
  });
});

describe("ToolValidator.validateParams", () => {
  const validator = new ToolValidator(policy);

  it("returns no violation for allowed parameters", () => {
    expect(
      validator.validateParams("add_issue_comment", {
        owner: "acme",
        repo: "widgets",
        visibility: "public",
      }),
    ).toEqual([]);
    expect(validator.validateParams("add_labels", { labels: ["bug", "triage"] })).toEqual([]);
    expect(validator.validateParams("get_issue", { anything: 1 })).toEqual([]);
  });

  it("reports each broken constraint with its kind and parameter", () => {
    const violations = validator.validateParams("add_issue_comment", {
      owner: "evil",
      repo: "Widgets!",
      visibility: "private",
    });
    expect(violations.map((violation) => [violation.param, violation.constraint])).toEqual([
      ["owner", "must_be"],
      ["repo", "pattern"],
      ["visibility", "allowlist"],
    ]);
    expect(violations[0]?.message).toContain('"evil"');
  });

  it("treats a missing parameter as a violation of every constraint on it", () => {
    const violations = validator.validateParams("add_issue_comment", {});
    expect(violations.map((violation) => violation.constraint)).toEqual([
      "must_be",
      "pattern",
      "allowlist",
    ]);
    expect(violations[0]?.message).toContain("missing");
  });

  it("compares structured values deeply", () => {
    expect(validator.validateParams("add_labels", { labels: ["bug"] })).toHaveLength(1);
    expect(validator.validateParams("add_labels", { labels: ["triage", "bug"] })).toHaveLength(1);
    expect(validator.validateParams("add_labels", { labels: "bug,triage" })).toHaveLength(1);
    const objects = new ToolValidator({
      tools: {
        t: { constraints: { o: { must_be: { a: [1, { b: 2 }] } }, n: { allowlist: [null, 3] } } },
      },
    });
    expect(objects.validateParams("t", { o: { a: [1, { b: 2 }] }, n: null })).toEqual([]);
    expect(objects.validateParams("t", { o: { a: [1, { b: 3 }] }, n: 3 })).toHaveLength(1);
    expect(objects.validateParams("t", { o: { a: [1, { b: 2 }], c: 1 }, n: 4 })).toHaveLength(2);
    expect(objects.validateParams("t", { o: { x: [1, { b: 2 }] }, n: 3 })).toHaveLength(1);
    expect(objects.validateParams("t", { o: [[1, { b: 2 }]], n: 3 })).toHaveLength(1);
  });

  it("checks each element of an array against an allowlist or a pattern", () => {
    const labels = new ToolValidator({
      tools: {
        add_labels: { constraints: { labels: { allowlist: ["bug", "triage"] } } },
        add_assignees: { constraints: { assignees: { pattern: "^[a-z-]+-bot$" } } },
      },
    });
    expect(labels.validateParams("add_labels", { labels: ["bug"] })).toEqual([]);
    expect(labels.validateParams("add_labels", { labels: ["triage", "bug"] })).toEqual([]);
    expect(labels.validateParams("add_labels", { labels: ["bug", "wontfix"] })).toEqual([
      expect.objectContaining({ param: "labels", constraint: "allowlist" }),
    ]);
    expect(labels.validateParams("add_labels", { labels: [["bug"]] })).toHaveLength(1);
    expect(labels.validateParams("add_assignees", { assignees: ["triage-bot"] })).toEqual([]);
    expect(
      labels.validateParams("add_assignees", { assignees: ["triage-bot", "mallory"] }),
    ).toEqual([expect.objectContaining({ param: "assignees", constraint: "pattern" })]);
    expect(labels.validateParams("add_assignees", { assignees: [] })).toHaveLength(1);
  });

  it("requires a string for pattern constraints", () => {
    expect(
      validator.validateParams("add_issue_comment", {
        owner: "acme",
        repo: 42,
        visibility: "public",
      }),
    ).toEqual([expect.objectContaining({ param: "repo", constraint: "pattern" })]);
  });

  it("refuses a tool the policy does not know", () => {
    expect(validator.validateParams("delete_repo", {})).toEqual([
      expect.objectContaining({
        tool: "delete_repo",
        constraint: "unknown_tool",
        param: undefined,
      }),
    ]);
  });

  it("gives the same verdict on repeated calls even with a global flag", () => {
    const global = new ToolValidator({
      tools: { t: { constraints: { p: { pattern: "^a", flags: "gi" } } } },
    });
    for (let call = 0; call < 3; call++)
      expect(global.validateParams("t", { p: "Abc" })).toEqual([]);
  });

  it("does not read parameters through the prototype", () => {
    const inherited = Object.create({ owner: "acme" }) as Record<string, unknown>;
    expect(validator.validateParams("add_labels", inherited)).toHaveLength(1);
  });
});

describe("ToolValidator construction", () => {
  it("fails with INVALID_TOOL_POLICY for a pattern that does not compile", () => {
    const build = () =>
      new ToolValidator({ tools: { t: { constraints: { p: { pattern: "([a-z" } } } } });
    expect(build).toThrow(InvalidToolPolicyError);
    try {
      build();
    } catch (error) {
      expect(InvalidToolPolicyError.isInstance(error)).toBe(true);
      expect((error as InvalidToolPolicyError).code).toBe("INVALID_TOOL_POLICY");
      expect((error as InvalidToolPolicyError).toolName).toBe("t");
      expect((error as InvalidToolPolicyError).param).toBe("p");
      expect((error as Error).cause).toBeInstanceOf(SyntaxError);
    }
  });

  it("rejects malformed policies with a clear error", () => {
    expect(() => new ToolValidator(null as never)).toThrow(TypeError);
    expect(() => new ToolValidator({} as never)).toThrow(/policy.tools/);
    expect(() => new ToolValidator({ tools: { t: null as never } })).toThrow(/tool "t"/);
    expect(() => new ToolValidator({ tools: { t: { constraints: { p: 3 as never } } } })).toThrow(
      /parameter "p"/,
    );
    expect(
      () => new ToolValidator({ tools: { t: { constraints: { p: { pattern: 3 as never } } } } }),
    ).toThrow(/pattern must be a string/);
    expect(
      () =>
        new ToolValidator({ tools: { t: { constraints: { p: { allowlist: "a" as never } } } } }),
    ).toThrow(/allowlist must be an array/);
  });

  it("compiles patterns once, at construction", () => {
    const original = globalThis.RegExp;
    let compiled = 0;
    globalThis.RegExp = new Proxy(original, {
      construct(target, args) {
        compiled++;
        return Reflect.construct(target, args);
      },
    });
    try {
      const validator = new ToolValidator({
        tools: { t: { constraints: { p: { pattern: "^x" } } } },
      });
      const afterConstruction = compiled;
      for (let call = 0; call < 10; call++) validator.validateParams("t", { p: "xyz" });
      expect(afterConstruction).toBe(1);
      expect(compiled).toBe(1);
    } finally {
      globalThis.RegExp = original;
    }
  });
});
