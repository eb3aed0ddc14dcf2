import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { body, everyFakeSecret, fake } from "./__fixtures__/fake-secrets.js";
import { SECRET_REDACTOR_DEFAULTS } from "./options.js";
import { SecretRedactor } from "./secret-redactor.js";

const redactor = new SecretRedactor();

/** Ordinary log content that must come through untouched. */
const BENIGN_CORPUS: readonly string[] = [
  "3f786850e387550fdab836ed7e6dc881de23001b",
  "commit 3f78685 merged into main; parent a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
  "request 4f1c2a3b-1234-4cde-9abc-0123456789ab completed",
  "2025-01-01T10:00:00.000Z 2025-06-30T23:59:59+02:00 1999-12-31",
  `data:image/png;base64,${Buffer.from(Array.from({ length: 1500 }, (_, index) => (index * 37 + 11) % 256)).toString("base64")}`,
  "The token is valid for one hour. Reset your password in the settings page.",
  "Keep the secret recipe safe. Press any key to continue. An API key identifies a project.",
  "Bearer tokens travel in a header; basic authentication sends a password.",
  "max_tokens=1024 token_count: 17 tokenizer=cl100k total_tokens=2048",
  "token_type=bearer expires_in=3600 password_policy=strict has_secret=true",
  "GET https://api.github.com/repos/octo/hello/issues?page=2&per_page=50 200 35ms",
  "https://example.com:8443/path/to/file.txt?version=3#section-2",
  "mailto:ada@example.com and ssh git@github.com:octo/hello.git",
  "user=ada role=admin region=eu-west-1 attempt=3 delay=2000ms",
  "sk-learn and kebab-case-identifiers-like-this-one are fine",
  "AKIA is a prefix; AKIAshort is not a key; the key id is masked as AKIA****",
  'eyJ is the base64 of {" and eyJhbGciOiJIUzI1NiJ9 alone is only a header',
  "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
  "Error: connect ECONNREFUSED 127.0.0.1:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
  "npm_config_cache=/home/ada/.npm ghp is a prefix, gh_pages is a branch",
  '{ "name": "@beauvoir/redactor", "version": "0.1.0", "private": false }',
  "price: $12.50; ratio 3:2; time 10:42:07; IPv6 ::1 and fe80::1ff:fe23:4567:890a",
];

describe("SecretRedactor.redact", () => {
  it.each(BENIGN_CORPUS.map((text) => [text.slice(0, 50), text]))(
    "leaves benign text unchanged: %s",
    (_label, text) => {
      expect(redactor.redact(text)).toBe(text);
    },
  );

  it("returns empty and short strings as they are", () => {
    expect(redactor.redact("")).toBe("");
    expect(redactor.redact("abc")).toBe("abc");
  });

  it("turns a non-string into its string form before redacting (for untyped callers)", () => {
    expect(redactor.redact(12345 as unknown as string)).toBe("12345");
  });

  it("redacts every secret in a line that holds many", () => {
    const line = everyFakeSecret.join(" | ");
    const redacted = redactor.redact(line);
    for (const secret of everyFakeSecret) expect(redacted).not.toContain(secret);
    expect(redacted.match(/\[REDACTED:[a-z-]+\]/g)?.length).toBeGreaterThanOrEqual(
      everyFakeSecret.length - 1,
    );
  });

  it("is idempotent: redacting redacted text changes nothing", () => {
    // Fragments are joined by a separator: a secret glued to the end of another
    // (`…-----END…-----AIza…`) is only found once the first becomes a placeholder.
    const fragments = [
      ...everyFakeSecret,
      "token=",
      "password: ",
      "Authorization: Bearer ",
      "Basic ",
      "https://u:",
      "@host/",
      "?sig=",
      "&",
      " ",
      "\n",
      '"',
      "'",
      "\\",
      "=",
      ":",
      "[REDACTED:",
      "]",
      "abc",
      "word",
    ];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...fragments), { maxLength: 12 }),
        fc.constantFrom(" ", "\n", ", "),
        (parts, separator) => {
          const once = redactor.redact(parts.join(separator));
          expect(redactor.redact(once)).toBe(once);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("never lets a whole secret through, whatever surrounds it", () => {
    const surroundings = [
      " ",
      "\n",
      "\t",
      '"',
      "'",
      "(",
      ")",
      ",",
      ";",
      "=",
      ":",
      "[",
      "]",
      "{",
      "}",
      "<",
      ">",
      "|",
    ];
    const contexts = [
      "",
      "token=",
      "Authorization: Bearer ",
      "password: ",
      "url https://x:",
      "key ",
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...everyFakeSecret),
        fc.constantFrom(...surroundings),
        fc.constantFrom(...surroundings),
        fc.constantFrom(...contexts),
        fc.string({ maxLength: 20 }),
        (secret, before, after, context, noise) => {
          const text = `${noise}${before}${context}${secret}${after}${noise}`;
          expect(redactor.redact(text)).not.toContain(secret);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("extraPatterns", () => {
  it("applies a bare global RegExp with the placeholder name custom", () => {
    const custom = new SecretRedactor({ extraPatterns: [/acme_[a-z0-9]{8}/g] });
    expect(custom.redact("key acme_abcd1234 here")).toBe("key [REDACTED:custom] here");
  });

  it("applies named patterns before the built-ins, so their names win", () => {
    const custom = new SecretRedactor({
      extraPatterns: [{ name: "acme-token", pattern: /acme_[a-z0-9]{8}/g }],
    });
    expect(custom.redact("token=acme_abcd1234")).toBe("token=[REDACTED:acme-token]");
    expect(custom.redact(`and ${fake.githubClassic}`)).toBe("and [REDACTED:github-pat]");
    expect(custom.patternNames[0]).toBe("acme-token");
  });

  it("replaces only the group named secret when the pattern has one", () => {
    const custom = new SecretRedactor({
      extraPatterns: [{ name: "pin", pattern: /\bpin code (?<secret>\d{4,8})\b/g }],
    });
    expect(custom.redact("your pin code 123456 expires")).toBe(
      "your pin code [REDACTED:pin] expires",
    );
  });

  it("keeps flags other than global, such as case-insensitive", () => {
    const custom = new SecretRedactor({ extraPatterns: [{ name: "x", pattern: /ACME-\d+/gi }] });
    expect(custom.redact("acme-42 ACME-7")).toBe("[REDACTED:x] [REDACTED:x]");
  });

  it("ignores empty matches instead of filling the text with placeholders", () => {
    const custom = new SecretRedactor({ extraPatterns: [/x*/g] });
    expect(custom.redact("abc xx def")).toBe("abc [REDACTED:custom] def");
  });

  it("does not share lastIndex with the caller's RegExp", () => {
    const pattern = /acme_\d+/g;
    const custom = new SecretRedactor({ extraPatterns: [pattern] });
    pattern.lastIndex = 5;
    expect(custom.redact("acme_1 acme_2")).toBe("[REDACTED:custom] [REDACTED:custom]");
    expect(pattern.lastIndex).toBe(5);
  });

  it.each([
    ["a string", ["acme_.*"], /extraPatterns\[0\] must be a RegExp or \{ name, pattern \}/],
    ["null", [null], /extraPatterns\[0\] must be a RegExp/],
    ["a non-global RegExp", [/acme/], /extraPatterns\[0\] must have the global flag/],
    ["a sticky RegExp", [/acme/gy], /extraPatterns\[0\] must not be sticky/],
    [
      "a pattern that is not a RegExp",
      [{ name: "x", pattern: "acme" }],
      /extraPatterns\[0\]\.pattern must be a RegExp/,
    ],
    ["a name with a bracket", [{ name: "x]", pattern: /a/g }], /extraPatterns\[0\]\.name/],
    ["a missing name", [{ pattern: /a/g }], /extraPatterns\[0\]\.name/],
    [
      "a non-global named pattern",
      [/ok/g, { name: "x", pattern: /a/ }],
      /extraPatterns\[1\] must have the global flag/,
    ],
  ])("rejects %s with a TypeError naming the entry", (_label, extraPatterns, message) => {
    expect(() => new SecretRedactor({ extraPatterns: extraPatterns as never })).toThrow(TypeError);
    expect(() => new SecretRedactor({ extraPatterns: extraPatterns as never })).toThrow(message);
  });
});

describe("options", () => {
  it("has frozen documented defaults", () => {
    expect(Object.isFrozen(SECRET_REDACTOR_DEFAULTS)).toBe(true);
    expect(SECRET_REDACTOR_DEFAULTS.maxDepth).toBe(10);
    expect(new SecretRedactor().maxDepth).toBe(10);
    expect(new SecretRedactor({ maxDepth: undefined }).maxDepth).toBe(10);
  });

  it("turns off the built-in patterns named in disabledPatterns", () => {
    const custom = new SecretRedactor({ disabledPatterns: ["jwt", "url-password"] });
    expect(custom.redact(fake.jwt)).toBe(fake.jwt);
    expect(custom.redact("https://u:p@h")).toBe("https://u:p@h");
    expect(custom.redact(fake.githubClassic)).toBe("[REDACTED:github-pat]");
    expect(custom.patternNames).not.toContain("jwt");
  });

  it("replaces the values of sensitiveKeys whole", () => {
    const custom = new SecretRedactor({ sensitiveKeys: ["social-security-number"] });
    expect(custom.redactAny({ socialSecurityNumber: "078-05-1120", name: "Ada" })).toEqual({
      socialSecurityNumber: "[REDACTED:socialsecuritynumber]",
      name: "Ada",
    });
  });

  it.each([
    [{ maxDepth: 0 }, RangeError, /maxDepth must be an integer from 1 to 1000, got 0/],
    [{ maxDepth: 1.5 }, RangeError, /maxDepth/],
    [{ maxDepth: 1001 }, RangeError, /maxDepth/],
    [{ maxDepth: "5" }, RangeError, /maxDepth/],
    [
      { disabledPatterns: ["nope"] },
      RangeError,
      /disabledPatterns: nope is not a built-in pattern/,
    ],
    [{ disabledPatterns: "jwt" }, TypeError, /disabledPatterns must be an array/],
    [{ extraPatterns: /a/g }, TypeError, /extraPatterns must be an array/],
    [{ sensitiveKeys: ["ok", "no way!"] }, TypeError, /sensitiveKeys\[1\]/],
    [{ sensitiveKeys: [42] }, TypeError, /sensitiveKeys\[0\]/],
  ])("rejects %o", (options, type, message) => {
    expect(() => new SecretRedactor(options as never)).toThrow(type);
    expect(() => new SecretRedactor(options as never)).toThrow(message);
  });

  it("rejects options that are not an object", () => {
    expect(() => new SecretRedactor("strict" as never)).toThrow(TypeError);
    expect(() => new SecretRedactor(null as never)).toThrow(/options must be an object/);
  });
});

describe("a redactor with the built-ins only (sanity of the fixtures)", () => {
  it("builds fake secrets of the documented lengths", () => {
    expect(fake.githubClassic).toHaveLength(40);
    expect(fake.githubFineGrained).toHaveLength(93);
    expect(fake.awsKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(fake.google).toHaveLength(39);
    expect(body(3)).toBe("A1b");
  });
});
