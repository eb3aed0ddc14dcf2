import { describe, expect, it } from "vitest";
import { fake } from "./__fixtures__/fake-secrets.js";
import { SecretRedactor } from "./secret-redactor.js";

// GitHub's stateless installation token (`ghs_<app id>_<JWT>`) is the token a
// GitHub bot holds most. It must go whole, from `ghs_` to the end of its
// signature, wherever it appears.

const redactor = new SecretRedactor();
const token = fake.githubAppStateless;
const [, , jwt] = token.split("_", 3) as [string, string, string];
const signature = token.slice(token.lastIndexOf(".") + 1);

/** Pieces of the token that must not survive, not even on their own. */
const pieces = [token, jwt, signature, token.slice(0, 60), token.slice(-60)];

function expectClean(output: string): void {
  for (const piece of pieces) expect(output).not.toContain(piece);
}

describe("GitHub's stateless installation token", () => {
  it("has the documented shape: ghs_, the app id, a JWT with two dots, about 520 characters", () => {
    expect(token).toMatch(/^ghs_[0-9]+_eyJ[A-Za-z0-9._-]+$/);
    expect(token.split(".")).toHaveLength(3);
    expect(token.length).toBeGreaterThan(450);
    expect(signature).toMatch(/[-_]/);
  });

  it.each([
    [
      "prose",
      (t: string) => `using ${t} for the request`,
      "using [REDACTED:github-app] for the request",
    ],
    ["alone", (t: string) => t, "[REDACTED:github-app]"],
    [
      "JSON",
      (t: string) => `{"token":"${t}","expires_at":"2026-01-01T00:00:00Z"}`,
      '{"token":"[REDACTED:github-app]","expires_at":"2026-01-01T00:00:00Z"}',
    ],
    [
      "a token remote",
      (t: string) => `https://${t}@github.com/acme/widgets.git`,
      "https://[REDACTED:github-app]@github.com/acme/widgets.git",
    ],
    [
      "an oauth2 remote",
      (t: string) => `https://oauth2:${t}@github.com/acme/widgets.git`,
      "https://oauth2:[REDACTED:github-app]@github.com/acme/widgets.git",
    ],
    [
      "an x-access-token remote",
      (t: string) => `git clone https://x-access-token:${t}@github.com/acme/widgets`,
      "git clone https://x-access-token:[REDACTED:github-app]@github.com/acme/widgets",
    ],
    [
      "x-access-token without a scheme",
      (t: string) => `x-access-token:${t}@github.com`,
      "x-access-token:[REDACTED:token]",
    ],
    [
      "an Authorization header",
      (t: string) => `Authorization: Bearer ${t}`,
      "Authorization: Bearer [REDACTED:github-app]",
    ],
    ["GITHUB_TOKEN=", (t: string) => `GITHUB_TOKEN=${t}`, "GITHUB_TOKEN=[REDACTED:github-app]"],
    [
      "the end of a sentence",
      (t: string) => `the token is ${t}.`,
      "the token is [REDACTED:github-app].",
    ],
    [
      "an escaped newline in JSON text",
      (t: string) => `{"log":"token:\\n${t}\\n"}`,
      '{"log":"token:\\n[REDACTED:github-app]\\n"}',
    ],
    [
      "a percent-encoded query",
      (t: string) => `?state=%7B%22t%22%3A%22${t}%22%7D`,
      "?state=%7B%22t%22%3A%22[REDACTED:github-app]%22%7D",
    ],
  ])("redact(): %s", (_label, place, expected) => {
    const output = redactor.redact(place(token));
    expect(output).toBe(expected);
    expectClean(output);
  });

  it("redactAny(): object values, arrays, Map and Set entries, nested", () => {
    const input = {
      token,
      note: `token ${token} issued`,
      list: [token, { inner: [`https://oauth2:${token}@github.com/x`] }],
      map: new Map([["value", token]]),
      set: new Set([token]),
      headers: { authorization: `token ${token}` },
    };
    const output = JSON.stringify(redactor.redactAny(input));
    expectClean(output);
    expect(redactor.redactAny({ value: token })).toEqual({ value: "[REDACTED:github-app]" });
  });

  it("redactAny(): the token as an object key", () => {
    expect(redactor.redactAny({ [token]: 1 })).toEqual({ "[REDACTED:github-app]": 1 });
  });

  it("redactError(): message, stack and every cause", () => {
    const cause = new Error(`clone of https://x-access-token:${token}@github.com/acme/w failed`);
    const error = new Error(`request with ${token} failed`, { cause });
    const safe = redactor.redactError(error);
    expectClean(safe.message);
    expectClean(String(safe.stack));
    expectClean((safe.cause as Error).message);
    expectClean(String((safe.cause as Error).stack));
  });
});
