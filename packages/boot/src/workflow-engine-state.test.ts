import { describe, expect, it } from "vitest";
import { keyToPin } from "./workflow-engine-state.js";

const generateKey = (action: string, scope: string, resource: string, params: unknown) => {
  if ((params as { refuse?: boolean }).refuse) throw new TypeError("not derivable");
  return `${action}:${scope}/${resource}:${JSON.stringify(params).length.toString(16).padStart(16, "0")}`;
};
const identity = { scope: "acme/widgets", resource: "issues/1", params: { auth: "secret-value" } };

describe("keyToPin: when a step's key must be saved before its first attempt", () => {
  it("not when the state on disk derives the same identity", () => {
    expect(
      keyToPin({ action: "a", identity, identityAfterResume: { ...identity }, generateKey }),
    ).toBeUndefined();
  });

  it("not when a different identity still derives the same key", () => {
    const same = { ...identity, params: { auth: "xxxxxxxxxxxx" } };
    expect(
      keyToPin({ action: "a", identity, identityAfterResume: same, generateKey }),
    ).toBeUndefined();
  });

  it("when the redacted identity derives another key", () => {
    const redacted = { ...identity, params: { auth: "[REDACTED:token]" } };
    expect(keyToPin({ action: "a", identity, identityAfterResume: redacted, generateKey })).toBe(
      generateKey("a", identity.scope, identity.resource, identity.params),
    );
  });

  it("when the identity cannot be derived from the redacted state at all", () => {
    expect(
      keyToPin({ action: "a", identity, identityAfterResume: undefined, generateKey }),
    ).toBeDefined();
    const refused = { ...identity, params: { refuse: true } };
    expect(
      keyToPin({ action: "a", identity, identityAfterResume: refused, generateKey }),
    ).toBeDefined();
  });
});
