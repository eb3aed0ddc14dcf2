import { describe, expect, it } from "vitest";
import type { IntentEntry } from "./audit-record.js";
import { checkAuditEntry, redactAuditField } from "./entry-fields.js";
import { AuditInvalidEntryError } from "./errors.js";
import type { AuditRedactor } from "./options.js";

const hideTokens: AuditRedactor = {
  redactAny: (value) =>
    JSON.parse(JSON.stringify(value).replaceAll("ghp_secret", "[REDACTED]")) as unknown,
};

function refusal(run: () => unknown): AuditInvalidEntryError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AuditInvalidEntryError);
    return error as AuditInvalidEntryError;
  }
  throw new Error("expected an AuditInvalidEntryError");
}

describe("checkAuditEntry", () => {
  it("redacts params into canonical JSON and leaves action and target to the caller", () => {
    const checked = checkAuditEntry(
      { action: "ghp_secret", target: "o/r#1", params: { z: 1, token: "ghp_secret", a: [2] } },
      hideTokens,
    );
    expect(checked).toEqual({
      action: "ghp_secret",
      target: "o/r#1",
      paramsJson: '{"a":[2],"token":"[REDACTED]","z":1}',
    });
  });

  it.each([
    ["entry", null],
    ["action", { action: "", target: "t", params: {} }],
    ["target", { action: "a", target: 1, params: {} }],
    ["params", { action: "a", target: "t", params: [] }],
    ["params", { action: "a", target: "t", params: { id: 1n } }],
  ])("refuses a bad %s with AUDIT_INVALID_ENTRY naming it", (field, entry) => {
    const error = refusal(() => checkAuditEntry(entry as unknown as IntentEntry, hideTokens));
    expect(error.code).toBe("AUDIT_INVALID_ENTRY");
    expect(error.field).toBe(field);
  });

  it("refuses params the redactor turns into something other than an object", () => {
    const error = refusal(() =>
      checkAuditEntry({ action: "a", target: "t", params: {} }, { redactAny: () => "[gone]" }),
    );
    expect(error.field).toBe("params");
    expect(error.message).toBe("params did not redact to an object");
  });
});

describe("redactAuditField", () => {
  it("answers what the redactor made of the value", () => {
    expect(redactAuditField(hideTokens, "error", "ghp_secret leaked")).toBe("[REDACTED] leaked");
  });

  it("turns a redactor that throws into AUDIT_INVALID_ENTRY on the field, with the cause", () => {
    const failure = new Error("redactor down");
    const error = refusal(() =>
      redactAuditField(
        {
          redactAny: () => {
            throw failure;
          },
        },
        "result",
        1,
      ),
    );
    expect(error.field).toBe("result");
    expect(error.cause).toBe(failure);
  });
});
