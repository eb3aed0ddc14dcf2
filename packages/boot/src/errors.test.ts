import { BeauvoirError } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import {
  BootError,
  DegradedModeError,
  describeError,
  InvalidToolPolicyError,
  ShuttingDownError,
  StepFailedError,
  StepInDoubtError,
  SubsystemUnavailableError,
  WorkflowNotFoundError,
} from "./errors.js";

const health = {
  success: false,
  mode: "degraded" as const,
  bootTimeMs: 1,
  warnings: [],
  subsystems: {},
  damage: [],
};

describe("errors", () => {
  it.each([
    [new BootError("auditTrail", health, new Error("x")), BootError, "BOOT_FAILED"],
    [new DegradedModeError("add_labels", []), DegradedModeError, "DEGRADED_MODE"],
    [new StepFailedError("k", "boom"), StepFailedError, "STEP_FAILED"],
    [new StepInDoubtError("k"), StepInDoubtError, "STEP_IN_DOUBT"],
    [new ShuttingDownError(), ShuttingDownError, "SHUTTING_DOWN"],
    [
      new InvalidToolPolicyError("t", undefined, "bad"),
      InvalidToolPolicyError,
      "INVALID_TOOL_POLICY",
    ],
    [new WorkflowNotFoundError("w", "workflow"), WorkflowNotFoundError, "WORKFLOW_NOT_FOUND"],
    [new SubsystemUnavailableError("store"), SubsystemUnavailableError, "SUBSYSTEM_UNAVAILABLE"],
  ] as const)("%s carries its code and is recognised across copies", (error, type, code) => {
    expect(error.code).toBe(code);
    expect(BeauvoirError.isInstance(error)).toBe(true);
    expect(type.isInstance(error)).toBe(true);
    expect(type.isInstance(new Error(code))).toBe(false);
    expect(error.name).toBe(type.name);
  });

  it("explains the degraded subsystems, or says it does not know them", () => {
    expect(new DegradedModeError("a", ["rateLimiter"]).message).toContain("failed: rateLimiter");
    expect(new DegradedModeError("a", []).message).toContain("failed: unknown");
  });

  it("describes anything thrown in one line", () => {
    expect(describeError(Object.assign(new Error("gone"), { code: "ENOENT" }))).toBe(
      "ENOENT: gone",
    );
    expect(describeError(new Error("plain"))).toBe("plain");
    expect(describeError(42)).toBe("42");
  });
});
