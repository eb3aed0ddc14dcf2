import { describe, expect, it } from "vitest";
import { body, fake, pemBlock } from "./__fixtures__/fake-secrets.js";
import { SecretRedactor } from "./secret-redactor.js";

// Secrets with a recognisable shape, in the contexts where they really appear:
// env files, JSON logs, percent-encoded query strings, HTTP headers, URLs.

const redactor = new SecretRedactor();
const redact = (text: string) => redactor.redact(text);

const pem = pemBlock("RSA PRIVATE KEY", 6);
const pemLines = pem.split("\n");
const pemBodyLines = pemLines.slice(1, -1);

/** Nothing of the key survives: no body line, no END line. */
function expectNoKeyMaterial(output: string): void {
  for (const line of pemBodyLines) expect(output).not.toContain(line.slice(0, 24));
  expect(output).not.toContain("-----END");
  expect(output).toContain("[REDACTED:private-key]");
}

describe("PEM private keys, from BEGIN to END, in every quoting", () => {
  const escaped = pemLines.join("\\n");
  const doubleEscaped = pemLines.join("\\\\n");
  it.each([
    ["after an env-var name", `GITHUB_APP_PRIVATE_KEY=${pem}\nNEXT=1`],
    ["after an env-var name, escaped newlines", `GITHUB_APP_PRIVATE_KEY=${escaped}`],
    ["in a double-quoted .env value", `GITHUB_APP_PRIVATE_KEY="${pem}"\nNEXT=1`],
    ["in a single-quoted .env value", `PRIVATE_KEY='${pem}'`],
    ["in a backtick string", `const key = \`${pem}\`;`],
    ["in a double-quoted value with escaped newlines", `PRIVATE_KEY="${escaped}"`],
    [
      "in JSON (a service account file)",
      `{"type":"service_account","private_key":"${escaped}\\n","client_email":"a@b"}`,
    ],
    ["in JSON inside a JSON string", `{"body":"{\\"private_key\\":\\"${doubleEscaped}\\"}"}`],
    ["in YAML, a block scalar", `app:\n  private_key: |\n    ${pemLines.join("\n    ")}\n  id: 12`],
    ["after a colon in prose", `key: ${pem}`],
    ["percent-encoded newlines", `key=${pemLines.join("%0A")}`],
  ])("%s", (_label, text) => {
    const output = redact(text);
    expectNoKeyMaterial(output);
    expect(redact(output)).toBe(output);
  });

  it("keeps the env-var name and what follows the END line", () => {
    expect(redact(`GITHUB_APP_PRIVATE_KEY="${pem}"\nNEXT=1`)).toBe(
      'GITHUB_APP_PRIVATE_KEY="[REDACTED:private-key]"\nNEXT=1',
    );
    expect(redact(`GITHUB_APP_PRIVATE_KEY=${pem}\nNEXT=1`)).toBe(
      "GITHUB_APP_PRIVATE_KEY=[REDACTED:private-key]\nNEXT=1",
    );
  });

  it.each(["EC PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"])(
    "%s after an env-var name",
    (kind) => {
      const block = pemBlock(kind, 4, "\n", 3);
      const output = redact(`SIGNING_KEY=${block}`);
      expect(output).toBe("SIGNING_KEY=[REDACTED:private-key]");
    },
  );
});

describe("tokens right after an escape, an encoded sign or an encoded quote", () => {
  const tokens: readonly (readonly [string, string])[] = [
    ["github-pat", fake.githubClassic],
    ["github-pat", fake.githubFineGrained],
    ["github-app", fake.githubApp],
    ["aws-key", fake.awsKeyId],
    ["slack-token", fake.slackBot],
    ["npm-token", fake.npm],
    ["google-api-key", fake.google],
    ["jwt", fake.jwt],
    ["gitlab-token", fake.gitlab],
    ["openai-key", fake.openaiProject],
    ["stripe-key", fake.stripeLive],
  ];
  it.each(tokens)("%s after an escaped newline inside JSON text", (name, token) => {
    expect(redact(`{"msg":"line one\\n${token}\\nline two"}`)).toBe(
      `{"msg":"line one\\n[REDACTED:${name}]\\nline two"}`,
    );
    expect(redact(`{"msg":"tab\\t${token}"}`)).toBe(`{"msg":"tab\\t[REDACTED:${name}]"}`);
    expect(redact(`{"msg":"\\u0022${token}\\u0022"}`)).toBe(
      `{"msg":"\\u0022[REDACTED:${name}]\\u0022"}`,
    );
  });

  it.each(tokens)("%s after %3D and %22 in percent-encoded text", (name, token) => {
    expect(redact(`GET /cb?next=%2Fh%3Fv%3D${token}%26x%3D1`)).toBe(
      `GET /cb?next=%2Fh%3Fv%3D[REDACTED:${name}]%26x%3D1`,
    );
    expect(redact(`GET /cb?state=%7B%22v%22%3A%22${token}%22%7D`)).toBe(
      `GET /cb?state=%7B%22v%22%3A%22[REDACTED:${name}]%22%7D`,
    );
  });

  it.each(tokens)("%s after _, :, @, = and quotes", (name, token) => {
    for (const before of ["ID_", "value:", "user@", "v=", '"', "'", "`", "(", "["]) {
      expect(redact(`${before}${token} end`), before).toBe(`${before}[REDACTED:${name}] end`);
    }
  });
});

describe("credentials after a header name and a scheme", () => {
  it("X-Auth-Token: Bearer <credential> loses the credential", () => {
    const credential = `${body(20)}.${body(10, "abcdef0123456789")}`;
    const output = redact(`X-Auth-Token: Bearer ${credential}`);
    expect(output).not.toContain(credential);
    expect(output).not.toContain(credential.slice(0, 12));
    expect(redact(`X-Auth-Token: Bearer ${fake.githubClassic}`)).toBe(
      "X-Auth-Token: Bearer [REDACTED:github-pat]",
    );
    expect(redact(`x-auth-token: token abc`)).toBe("x-auth-token: [REDACTED:token]");
  });

  it("Bearer glpat-… (a dash in the credential)", () => {
    expect(redact(`Bearer ${fake.gitlab}`)).toBe("Bearer [REDACTED:gitlab-token]");
    const dashed = `abc-${body(30)}`;
    expect(redact(`Authorization: Bearer ${dashed}`)).toBe(
      "Authorization: Bearer [REDACTED:bearer]",
    );
    expect(redact(`curl -H "Bearer ${dashed}"`)).toBe('curl -H "Bearer [REDACTED:bearer]"');
  });
});

describe("URL passwords", () => {
  it.each([
    ["longer than 256 characters", body(400)],
    ["containing @", `p@ss${body(10)}`],
    ["containing /", `pa/ss${body(10)}`],
    ["containing @ and :", `p@:ss${body(10)}`],
    ["a stateless installation token", fake.githubAppStateless],
  ])("%s", (_label, password) => {
    const output = redact(`remote https://oauth2:${password}@gitlab.example.com/acme/w.git done`);
    expect(output).not.toContain(password);
    expect(output).toMatch(
      /^remote https:\/\/oauth2:\[REDACTED:[a-z-]+\]@gitlab\.example\.com\/acme\/w\.git done$/,
    );
    expect(redact(output)).toBe(output);
  });

  it("a token used as the user name, with a password", () => {
    const output = redact(`https://${fake.githubClassic}:x-oauth-basic@github.com/acme/w`);
    expect(output).toBe("https://[REDACTED:github-pat]:[REDACTED:url-password]@github.com/acme/w");
    expect(redact(output)).toBe(output);
  });

  it("leaves ports, paths with @ and IPv6 hosts alone", () => {
    for (const url of [
      "https://example.com:8443/users/@ada/profile",
      "https://registry.npmjs.org/@beauvoir%2fredactor",
      "https://unpkg.com/react@18.2.0/umd/react.production.min.js",
      "ssh://git@github.com:22/acme/widgets.git",
      "git+ssh://git@github.com:acme/widgets.git",
      "http://[::1]:8080/health",
      "redis://cache:6379",
    ]) {
      expect(redact(url)).toBe(url);
    }
  });

  it("keeps the host when the path holds an @ after the password", () => {
    expect(redact("https://u:pw@registry.example.com/@scope/pkg")).toBe(
      "https://u:[REDACTED:url-password]@registry.example.com/@scope/pkg",
    );
  });
});

describe("cloud and registry credentials", () => {
  const azureKey = `${body(86, `${"A1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvWxYz"}+/`, 3)}==`;
  it("Azure storage AccountKey= and Service Bus SharedAccessKey=", () => {
    expect(
      redact(
        `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${azureKey};EndpointSuffix=core.windows.net`,
      ),
    ).toBe(
      "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=[REDACTED:azure-key];EndpointSuffix=core.windows.net",
    );
    expect(
      redact(
        `Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${azureKey}`,
      ),
    ).toBe(
      "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=[REDACTED:azure-key]",
    );
    expect(redactor.redactAny({ AccountKey: azureKey, sharedAccessKey: azureKey })).toEqual({
      AccountKey: "[REDACTED:azure-key]",
      sharedAccessKey: "[REDACTED:azure-key]",
    });
  });

  const basic = Buffer.from(`deploy:${body(16)}`).toString("base64");
  it("npm _auth and _authToken in .npmrc", () => {
    expect(redact(`//registry.npmjs.org/:_auth=${basic}`)).toBe(
      "//registry.npmjs.org/:_auth=[REDACTED:auth]",
    );
    expect(redact(`_auth = "${basic}"`)).toBe('_auth = "[REDACTED:auth]"');
    const uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    expect(redact(`//npm.pkg.github.com/:_authToken=${uuid}`)).toBe(
      "//npm.pkg.github.com/:_authToken=[REDACTED:token]",
    );
    expect(redact(`//registry.npmjs.org/:_authToken=${fake.npm}`)).toBe(
      "//registry.npmjs.org/:_authToken=[REDACTED:npm-token]",
    );
    expect(redactor.redactAny({ _auth: basic, _authToken: uuid })).toEqual({
      _auth: "[REDACTED:auth]",
      _authToken: "[REDACTED:token]",
    });
  });

  it("Docker config auth values", () => {
    const config = JSON.stringify({
      auths: { "ghcr.io": { auth: basic }, "docker.io": { auth: basic } },
    });
    const output = redact(config);
    expect(output).not.toContain(basic);
    expect(output).toBe(
      '{"auths":{"ghcr.io":{"auth":"[REDACTED:auth]"},"docker.io":{"auth":"[REDACTED:auth]"}}}',
    );
    expect(redactor.redactAny(JSON.parse(config))).toEqual({
      auths: { "ghcr.io": { auth: "[REDACTED:auth]" }, "docker.io": { auth: "[REDACTED:auth]" } },
    });
  });

  it("auth values that are a JWT or base64url: nothing of them is left", () => {
    const jwt = `eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NTYifQ.${body(27)}-_${body(5)}`;
    const base64url = `dXNlcjpw.YXNz-d29y_ZA${body(8)}`;
    for (const value of [jwt, base64url]) {
      for (const [text, expected] of [
        [`{"auth":"${value}"}`, '{"auth":"[REDACTED:auth]"}'],
        [`_auth=${value}`, "_auth=[REDACTED:auth]"],
        [`_auth = "${value}" # npm`, '_auth = "[REDACTED:auth]" # npm'],
        [`'auth': '${value}'`, "'auth': '[REDACTED:auth]'"],
      ] as const) {
        // A JWT may be named by the jwt pattern instead: either way the whole value goes.
        const output = redact(text).replace("[REDACTED:jwt]", "[REDACTED:auth]");
        expect(output, text).toBe(expected);
        expect(redact(redact(text))).toBe(redact(text));
      }
    }
    expect(redact('{"auth":"required","_auth":"none"}')).toBe('{"auth":"required","_auth":"none"}');
    expect(redact("_auth=config.enabled")).toBe("_auth=config.enabled");
  });

  it("the legacy v1. installation token", () => {
    expect(redact(`token ${fake.githubAppLegacy} expires`)).toBe(
      "token [REDACTED:github-app-legacy] expires",
    );
    expect(redact(`https://x-access-token:${fake.githubAppLegacy}@github.com/a/b`)).toBe(
      "https://x-access-token:[REDACTED:github-app-legacy]@github.com/a/b",
    );
  });

  it.each([
    ["gitlab-token", fake.gitlab],
    ["huggingface-token", fake.huggingFace],
    ["sendgrid-key", fake.sendgrid],
    ["google-oauth", fake.googleOauth],
    ["digitalocean-token", fake.digitalOcean],
    ["shopify-token", fake.shopify],
    ["pypi-token", fake.pypi],
  ])("%s", (name, secret) => {
    expect(redact(`x ${secret} y`)).toBe(`x [REDACTED:${name}] y`);
    expect(redact(`"${secret}"`)).toBe(`"[REDACTED:${name}]"`);
  });
});

describe("redacted text passed through again", () => {
  it("keeps an already redacted idempotency key, hashes, SHAs and UUIDs", () => {
    for (const text of [
      "add_issue_comment:acme/[REDACTED:github-app]:0123456789abcdef",
      "add_issue_comment:acme/widgets/issues/[REDACTED:token]:fedcba9876543210",
      "merge:acme/[REDACTED:url-password]@x:0123456789abcdef",
      "0123456789abcdef",
      "3f786850e387550fdab836ed7e6dc881de23001b",
      "4f1c2a3b-1234-4cde-9abc-0123456789ab",
    ]) {
      expect(redact(text)).toBe(text);
    }
  });

  it("does not redact a placeholder that follows a URL scheme", () => {
    const once = redact(`https://${fake.githubClassic}@github.com`);
    expect(once).toBe("https://[REDACTED:github-pat]@github.com");
    expect(redact(once)).toBe(once);
  });
});
