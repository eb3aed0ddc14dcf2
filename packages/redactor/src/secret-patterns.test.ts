import { describe, expect, it } from "vitest";
import { body, fake } from "./__fixtures__/fake-secrets.js";
import { BUILT_IN_SECRET_PATTERNS } from "./secret-patterns.js";
import { SecretRedactor } from "./secret-redactor.js";

const redactor = new SecretRedactor();
const redact = (text: string) => redactor.redact(text);

describe("the six patterns of the plan", () => {
  it.each([
    ["github_pat_ (fine-grained PAT)", fake.githubFineGrained, "[REDACTED:github-pat]"],
    ["ghp_ (classic PAT)", fake.githubClassic, "[REDACTED:github-pat]"],
    ["ghs_ (app installation token)", fake.githubApp, "[REDACTED:github-app]"],
    ["gho_ (OAuth token)", fake.githubOauth, "[REDACTED:github-oauth]"],
    ["AWS access key id", fake.awsKeyId, "[REDACTED:aws-key]"],
    ["generic API key", "api_key=0123456789abcdef", "api_key=[REDACTED:api-key]"],
  ])("%s", (_label, input, expected) => {
    expect(redact(`before ${input} after`)).toBe(`before ${expected} after`);
  });

  it("tries github_pat_ before the generic key names (most specific first)", () => {
    expect(redact(`api_key=${fake.githubFineGrained}`)).toBe("api_key=[REDACTED:github-pat]");
    expect(redact(`token: ${fake.githubApp}`)).toBe("token: [REDACTED:github-app]");
  });
});

describe("token formats with a recognisable shape", () => {
  it.each([
    ["github-user", fake.githubUser],
    ["github-refresh", fake.githubRefresh],
    ["aws-key", fake.awsTemporaryKeyId],
    ["aws-key", "AKIAIOSFODNN7EXAMPLE"],
    ["jwt", fake.jwt],
    ["jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEifQ."],
    ["private-key", fake.pem],
    [
      "private-key",
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----",
    ],
    [
      "private-key",
      "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
    ],
    ["slack-token", fake.slackBot],
    ["slack-token", fake.slackUser],
    ["slack-token", fake.slackApp],
    ["stripe-key", fake.stripeLive],
    ["stripe-key", fake.stripeRestricted],
    ["stripe-key", fake.stripeWebhook],
    ["npm-token", fake.npm],
    ["openai-key", fake.openaiProject],
    ["openai-key", fake.openaiLegacy],
    ["openai-key", fake.openaiServiceAccount],
    ["anthropic-key", fake.anthropic],
    ["google-api-key", fake.google],
  ])("%s: %s", (name, secret) => {
    expect(redact(`x ${secret} y`)).toBe(`x [REDACTED:${name}] y`);
    expect(redact(secret)).toBe(`[REDACTED:${name}]`);
    expect(redact(`"${secret}"`)).toBe(`"[REDACTED:${name}]"`);
  });

  it("keeps the host of a Slack webhook URL and removes its path", () => {
    expect(redact(`posting to ${fake.slackWebhook} now`)).toBe(
      "posting to https://hooks.slack.com/[REDACTED:slack-webhook] now",
    );
  });

  it("redacts a PEM block cut off before its END line (a truncated log line)", () => {
    const truncated = fake.pem.slice(0, 80);
    expect(redact(`key: ${truncated}`)).toBe("key: [REDACTED:private-key]");
  });

  it("redacts only up to the END line of a PEM block", () => {
    expect(redact(`${fake.pem}\nnext line`)).toBe("[REDACTED:private-key]\nnext line");
  });
});

describe("near misses stay as they are", () => {
  it.each([
    ["too short for a classic PAT", `ghp_${body(35)}`],
    ["wrong separator", `ghp-${body(36)}`],
    ["unknown GitHub family", `ghx_${body(36)}`],
    ["prefix inside a longer word", `xghp_${body(36)}`],
    ["fine-grained PAT too short", `github_pat_${body(60)}`],
    ["AWS id one character short", `AKIA${body(15, "ABCDEFGHIJKLMNOP")}`],
    ["AWS id inside a longer word", `AKIA${body(20, "ABCDEFGHIJKLMNOP")}`],
    ["AWS id in lower case", `akia${body(16, "abcdefghijklmnop")}`],
    ["JWT-like without a payload", "eyJhbGciOiJIUzI1NiJ9"],
    ["JWT-like whose payload is not JSON", "eyJhbGciOiJIUzI1NiJ9.abcdef.ghij"],
    ["PEM public key", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY-----"],
    ["certificate", "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl\n-----END CERTIFICATE-----"],
    ["Slack-like without a body", "xoxb-123"],
    ["Stripe publishable key", `pk_live_${body(24)}`],
    ["Stripe key too short", "sk_live_abc"],
    ["npm_ too short", "npm_install_hook"],
    ["kebab-case identifier after sk-", "sk-learn-classifier-pipeline-settings"],
    ["sk-proj- too short", "sk-proj-demo"],
    ["Google key one character short", `AIza${body(34)}`],
    ["Google key too long", `AIza${body(36)}`],
  ])("%s", (_label, text) => {
    expect(redact(`see ${text} here`)).toBe(`see ${text} here`);
  });
});

describe("secrets given away by their context", () => {
  it.each([
    ["Authorization: Bearer abcDEF123456ghi", "Authorization: Bearer [REDACTED:bearer]"],
    ['"authorization": "Bearer abcDEF123456ghi"', '"authorization": "Bearer [REDACTED:bearer]"'],
    [`Authorization: token ${fake.githubClassic}`, "Authorization: token [REDACTED:github-pat]"],
    [`Authorization: Bearer ${fake.jwt}`, "Authorization: Bearer [REDACTED:jwt]"],
    [`Authorization: Basic ${fake.basicCredential}`, "Authorization: Basic [REDACTED:basic-auth]"],
    [
      "Authorization: Digest username=ada, response=6629fae4",
      "Authorization: [REDACTED:authorization]",
    ],
    [
      "Proxy-Authorization: Negotiate YIIGhgYJKoZI",
      "Proxy-Authorization: [REDACTED:authorization]",
    ],
    ["Cookie: sid=31d4d96e407aad42; theme=dark\nnext", "Cookie: [REDACTED:cookie]\nnext"],
    ["Set-Cookie: sid=abc; Path=/; HttpOnly", "Set-Cookie: [REDACTED:cookie]"],
    ["curl -H 'X-Api-Key: 0123456789' url", "curl -H 'X-Api-Key: [REDACTED:api-key]' url"],
    ["x-github-token: abcdef0123", "x-github-token: [REDACTED:token]"],
    [
      "headers: Ocp-Apim-Subscription-Key=abcd1234",
      "headers: Ocp-Apim-Subscription-Key=[REDACTED:api-key]",
    ],
    [`bearer ${fake.opaqueBearer}`, "bearer [REDACTED:bearer]"],
  ])("%s", (input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it.each([
    ["password=hunter2", "password=[REDACTED:password]"],
    ["DB_PASSWORD=hunter2 next", "DB_PASSWORD=[REDACTED:password] next"],
    ["dbPassword: 'hunter 2'", "dbPassword: '[REDACTED:password]'"],
    [
      '{"password":"correct horse","user":"ada"}',
      '{"password":"[REDACTED:password]","user":"ada"}',
    ],
    [
      '{\\"password\\":\\"hunter2\\",\\"user\\":\\"ada\\"}',
      '{\\"password\\":\\"[REDACTED:password]\\",\\"user\\":\\"ada\\"}',
    ],
    ["passwd = s3cret", "passwd = [REDACTED:password]"],
    ["passphrase := s3cret", "passphrase := [REDACTED:password]"],
    [":password => 'x1'", ":password => '[REDACTED:password]'"],
    ["--password=hunter2 --verbose", "--password=[REDACTED:password] --verbose"],
    ["client_secret=abc123&grant_type=x", "client_secret=[REDACTED:secret]&grant_type=x"],
    ["clientSecret: abc123", "clientSecret: [REDACTED:secret]"],
    ["SECRET_KEY=django-insecure-abc", "SECRET_KEY=[REDACTED:secret]"],
    ["private_key: 'abc'", "private_key: '[REDACTED:secret]'"],
    ["signingKey=abc", "signingKey=[REDACTED:secret]"],
    ["webhook_secret=`abc def`", "webhook_secret=`[REDACTED:secret]`"],
    ["token=abc123", "token=[REDACTED:token]"],
    ["GITHUB_TOKEN=abc123", "GITHUB_TOKEN=[REDACTED:token]"],
    ["accessToken: abc123", "accessToken: [REDACTED:token]"],
    ["refresh_token=abc;other=1", "refresh_token=[REDACTED:token];other=1"],
    ["X-Auth-Token: abc123", "X-Auth-Token: [REDACTED:token]"],
    ["apiKey=abc", "apiKey=[REDACTED:api-key]"],
    ["API_KEY=abc", "API_KEY=[REDACTED:api-key]"],
    [
      "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret]",
    ],
    [`aws_secret_access_key = ${fake.awsSecret}`, "aws_secret_access_key = [REDACTED:aws-secret]"],
    [`"SecretAccessKey": "${fake.awsSecret}"`, '"SecretAccessKey": "[REDACTED:aws-secret]"'],
    ["form: user=ada&password%3Dhunter2", "form: user=ada&password%3D[REDACTED:password]"],
  ])("%s", (input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it.each([
    ["postgres://app:hunter2@db:5432/main", "postgres://app:[REDACTED:url-password]@db:5432/main"],
    ["redis://:s3cret@cache:6379", "redis://:[REDACTED:url-password]@cache:6379"],
    [
      `https://x-access-token:${fake.githubApp}@github.com/o/r.git`,
      "https://x-access-token:[REDACTED:github-app]@github.com/o/r.git",
    ],
    [
      "GET /callback?state=s1&access_token=abc.def&expires_in=3600",
      "GET /callback?state=s1&access_token=[REDACTED:token]&expires_in=3600",
    ],
    [
      "https://api.example.com/v1?api_key=abc123",
      "https://api.example.com/v1?api_key=[REDACTED:api-key]",
    ],
    ["https://h/p?client_secret=s&x=1", "https://h/p?client_secret=[REDACTED:secret]&x=1"],
    ["https://h/p?user=a&password=p&x=1", "https://h/p?user=a&password=[REDACTED:password]&x=1"],
    [
      "https://app/cb#access_token=abc&token_type=bearer",
      "https://app/cb#access_token=[REDACTED:token]&token_type=bearer",
    ],
    [
      "https://blob/c?sv=2021&sig=Ab%2Bcd%3D&se=1",
      "https://blob/c?sv=2021&sig=[REDACTED:url-param]&se=1",
    ],
    [
      "https://s3/o?X-Amz-Credential=cred&X-Amz-Signature=f00d",
      "https://s3/o?X-Amz-Credential=[REDACTED:url-param]&X-Amz-Signature=[REDACTED:url-param]",
    ],
    ["https://maps/api?key=abc123&q=x", "https://maps/api?key=[REDACTED:url-param]&q=x"],
    ["wss://h/socket?jwt=abc&v=2", "wss://h/socket?jwt=[REDACTED:url-param]&v=2"],
    ["https://h/?sessionId=abc", "https://h/?sessionId=[REDACTED:url-param]"],
  ])("%s", (input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it.each([
    [
      "JSON percent-encoded in a query string",
      "GET /cb?state=%7B%22token%22%3A%22abc123%22%7D&x=1",
      "GET /cb?state=%7B%22token%22%3A%22[REDACTED:token]&x=1",
    ],
    [
      "a signed URL percent-encoded inside a redirect",
      "GET /login?next=https%3A%2F%2Fh%2Fcb%3Fsig%3Dabc123%26v%3D2 302",
      "GET /login?next=https%3A%2F%2Fh%2Fcb%3Fsig%3D[REDACTED:url-param] 302",
    ],
    [
      "JSON escaped inside a JSON string",
      '{"body":"{\\"api_key\\":\\"abc123\\"}"}',
      '{"body":"{\\"api_key\\":\\"[REDACTED:api-key]\\"}"}',
    ],
    [
      "single-quoted Python repr",
      "{'password': 'hunter 2', 'user': 'ada'}",
      "{'password': '[REDACTED:password]', 'user': 'ada'}",
    ],
  ])("finds secrets in common encodings: %s", (_label, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it("leaves data values alone: null, booleans, empty values", () => {
    for (const text of ["token: null", "password=false", 'secret: ""', "token=", "password:None"]) {
      expect(redact(text)).toBe(text);
    }
  });

  it("redacts a whole value that mixes a known secret with other text", () => {
    expect(redact(`secret="prefix ${fake.githubClassic} and hunter2"`)).toBe(
      'secret="[REDACTED:secret]"',
    );
    expect(redact(`password="hunter ${fake.githubClassic}"`)).toBe(
      'password="[REDACTED:password]"',
    );
    expect(redact(`Authorization: Bot ${fake.githubApp}`)).toBe(
      "Authorization: Bot [REDACTED:github-app]",
    );
  });

  it("does not take prose after Bearer or Basic for a credential", () => {
    const prose =
      "Bearer tokens travel in a header. Basic Auth is weak. basic usage. bearer of news.";
    expect(redact(prose)).toBe(prose);
  });
});

describe("BUILT_IN_SECRET_PATTERNS", () => {
  it("lists every placeholder name once, with a global pattern and a description", () => {
    const names = BUILT_IN_SECRET_PATTERNS.map((pattern) => pattern.name);
    expect(new Set(names).size).toBe(names.length);
    for (const { pattern, description } of BUILT_IN_SECRET_PATTERNS) {
      expect(pattern.flags).toContain("g");
      expect(pattern.test(""), "a pattern that matches nothing would loop").toBe(false);
      expect(description.length).toBeGreaterThan(10);
    }
    expect(names).toEqual(redactor.patternNames);
  });

  it("each pattern finds its own example on its own", () => {
    const examples: Record<string, string> = {
      "private-key": fake.pem,
      jwt: fake.jwt,
      "github-pat": fake.githubClassic,
      "github-oauth": fake.githubOauth,
      "github-app": fake.githubApp,
      "github-user": fake.githubUser,
      "github-refresh": fake.githubRefresh,
      "github-app-legacy": fake.githubAppLegacy,
      "aws-key": fake.awsKeyId,
      "slack-webhook": fake.slackWebhook,
      "slack-token": fake.slackBot,
      "stripe-key": fake.stripeLive,
      "npm-token": fake.npm,
      "anthropic-key": fake.anthropic,
      "openai-key": fake.openaiProject,
      "google-api-key": fake.google,
      "google-oauth": fake.googleOauth,
      "gitlab-token": fake.gitlab,
      "huggingface-token": fake.huggingFace,
      "sendgrid-key": fake.sendgrid,
      "digitalocean-token": fake.digitalOcean,
      "shopify-token": fake.shopify,
      "pypi-token": fake.pypi,
      "url-password": "https://u:p@h",
      "url-param": "?sig=abc",
      bearer: "Bearer abc123XYZ",
      "basic-auth": `Basic ${fake.basicCredential}`,
      authorization: "Authorization: Custom xyz",
      cookie: "Cookie: a=b",
      auth: `"auth":"${fake.basicCredential}"`,
      "azure-key": "AccountKey=abc123",
      "aws-secret": `aws_secret_access_key=${fake.awsSecret}`,
      "api-key": "api_key=abc",
      password: "password=abc",
      secret: "secret=abc",
      token: "token=abc",
    };
    for (const { name, pattern } of BUILT_IN_SECRET_PATTERNS) {
      const example = examples[name];
      expect(example, name).toBeDefined();
      pattern.lastIndex = 0;
      expect(pattern.test(example!), name).toBe(true);
    }
  });
});
