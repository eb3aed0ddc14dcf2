import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fake } from "./__fixtures__/fake-secrets.js";
import { fragmentText } from "./__fixtures__/pattern-fragments.js";
import { BUILT_IN_SECRET_PATTERNS } from "./secret-patterns.js";
import { SecretRedactor } from "./secret-redactor.js";

// redact(redact(x)) === redact(x) for every input: other packages redact keys
// and records that already went through the redactor once.

const redactor = new SecretRedactor();

describe("redact() is idempotent", () => {
  it("on the URL password case of the issue", () => {
    for (const text of [
      `https://${fake.githubClassic}@github.com`,
      `https://${fake.githubClassic}@github.com/acme/widgets.git`,
      `https://oauth2:${fake.githubClassic}@github.com`,
      `https://user:${fake.githubClassic}@github.com`,
    ]) {
      const once = redactor.redact(text);
      expect(once).not.toContain(fake.githubClassic);
      expect(redactor.redact(once)).toBe(once);
    }
  });

  it("on secrets glued to each other", () => {
    for (const text of [
      `${fake.pem}${fake.google}`,
      `${fake.google}${fake.pem}`,
      `${fake.awsKeyId}-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----`,
      `x${fake.githubClassic}_${fake.jwt}`,
      `${fake.slackWebhook}${fake.githubClassic}`,
    ]) {
      const once = redactor.redact(text);
      expect(redactor.redact(once), text).toBe(once);
    }
  });

  it("on every placeholder, alone and followed by text", () => {
    for (const { name } of BUILT_IN_SECRET_PATTERNS) {
      for (const text of [
        `[REDACTED:${name}]`,
        `[REDACTED:${name}]=abc`,
        `x:[REDACTED:${name}]@h`,
      ]) {
        expect(redactor.redact(text)).toBe(text);
      }
    }
  });

  it("on text made of pattern fragments", () => {
    fc.assert(
      fc.property(fragmentText, (text) => {
        const once = redactor.redact(text);
        expect(redactor.redact(once)).toBe(once);
      }),
      { numRuns: 3000 },
    );
  });

  it("on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (text) => {
        const once = redactor.redact(text);
        expect(redactor.redact(once)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("redactAny() is idempotent", () => {
  const leaf = fc.oneof(fragmentText, fc.integer(), fc.boolean(), fc.constant(null));
  const key = fc.oneof(
    fragmentText,
    fc.constantFrom("token", "password", "auth", "AccountKey", "x"),
  );
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: "small" },
      leaf,
      fc.array(tie("node"), { maxLength: 4 }),
      fc.dictionary(key, tie("node"), { maxKeys: 4 }),
      fc.array(fc.tuple(key, tie("node")), { maxLength: 3 }).map((entries) => new Map(entries)),
      fc.array(tie("node"), { maxLength: 3 }).map((entries) => new Set(entries)),
    ),
  })).node;

  it("on nested values, keys, Maps and Sets made of pattern fragments", () => {
    fc.assert(
      fc.property(value, (input) => {
        const once = redactor.redactAny(input);
        expect(redactor.redactAny(once)).toEqual(once);
      }),
      { numRuns: 1500 },
    );
  });

  it("on errors with causes", () => {
    fc.assert(
      fc.property(fragmentText, fragmentText, (message, causeMessage) => {
        const error = new Error(message, { cause: new Error(causeMessage) });
        const once = redactor.redactAny(error);
        expect(redactor.redactAny(once)).toEqual(once);
      }),
      { numRuns: 500 },
    );
  });
});
