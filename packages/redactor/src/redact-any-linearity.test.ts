import { describe, expect, it } from "vitest";
import { body } from "./__fixtures__/fake-secrets.js";
import { growthRatio, LINEAR_GROWTH_LIMIT } from "./__fixtures__/linear-growth.js";
import { SecretRedactor } from "./secret-redactor.js";

// redactAny must stay linear in the number of keys and in the length of each
// key, whatever the keys look like. Sizes n and 4n are compared, never
// absolute times.

const redactor = new SecretRedactor();
const BASE16 = "0123456789abcdef";

/** `count` distinct keys that all redact to the same placeholder. */
function tokenKeys(count: number): Record<string, number> {
  const object: Record<string, number> = {};
  for (let index = 0; index < count; index++) {
    object[`ghp_${body(28)}${index.toString(16).padStart(8, "0")}`] = index;
  }
  return object;
}

describe("redactAny is linear in the number of keys", () => {
  it("when every key redacts to the same placeholder", () => {
    const ratio = growthRatio(tokenKeys, (input) => redactor.redactAny(input), 1500);
    expect(ratio).toBeLessThan(LINEAR_GROWTH_LIMIT);
  });

  it("keeps every value, each under its own key", () => {
    const output = redactor.redactAny(tokenKeys(3000)) as Record<string, number>;
    const keys = Object.keys(output);
    expect(keys).toHaveLength(3000);
    expect(keys[0]).toBe("[REDACTED:github-pat]");
    expect(keys[1]).toBe("[REDACTED:github-pat]#2");
    expect(keys[2999]).toBe("[REDACTED:github-pat]#3000");
    expect(Object.values(output).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 3000 }, (_, index) => index),
    );
  });

  it("when keys collide with numbered keys already in the object", () => {
    const make = (count: number) => {
      const object: Record<string, number> = {};
      for (let index = 0; index < count; index++) {
        object[`[REDACTED:github-pat]#${index + 2}`] = index;
        object[`ghp_${body(28)}${index.toString(16).padStart(8, "0")}`] = index;
      }
      return object;
    };
    const ratio = growthRatio(make, (input) => redactor.redactAny(input), 1000);
    expect(ratio).toBeLessThan(LINEAR_GROWTH_LIMIT);
    const output = redactor.redactAny(make(50)) as Record<string, number>;
    expect(Object.keys(output)).toHaveLength(100);
  });

  it("in Maps whose keys redact to the same placeholder", () => {
    const make = (count: number) =>
      new Map(Array.from({ length: count }, (_, index) => [`token=${index}`, index] as const));
    const ratio = growthRatio(make, (input) => redactor.redactAny(input), 2000);
    expect(ratio).toBeLessThan(LINEAR_GROWTH_LIMIT);
  });
});

describe("redactAny is linear in the length of pathological keys", () => {
  const units: Record<string, string> = {
    "ghp_ repeated": "ghp_",
    "token= repeated": "token=",
    "eyJ_ repeated": "eyJ_",
    "https://u: repeated": "https://u:",
    "-----BEGIN PRIVATE KEY----- repeated": "-----BEGIN PRIVATE KEY-----",
    'password=" repeated': 'password="',
    "hex run": BASE16,
  };
  it.each(Object.entries(units))("%s", (_label, unit) => {
    const make = (size: number) => ({ [unit.repeat(Math.ceil(size / unit.length))]: "value" });
    const ratio = growthRatio(make, (input) => redactor.redactAny(input), 128 * 1024);
    expect(ratio).toBeLessThan(LINEAR_GROWTH_LIMIT);
  });
});
