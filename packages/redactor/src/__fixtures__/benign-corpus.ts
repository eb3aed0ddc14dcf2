// Ordinary log, config and code lines with nothing secret in them, the kind
// that sits right next to secrets: hashes, identifiers, encoded data, prose and
// code that talks about tokens and passwords. The redactor must leave them be.

/** Deterministic bytes, so the encoded data below is the same on every run. */
const bytes = (length: number, seed: number): Buffer =>
  Buffer.from(Array.from({ length }, (_, index) => (index * 131 + seed * 17 + 7) % 256));

const hex = (length: number, seed: number): string =>
  bytes(Math.ceil(length / 2), seed)
    .toString("hex")
    .slice(0, length);
const integrity = (seed: number) => `sha512-${bytes(64, seed).toString("base64")}`;
const sha256 = (seed: number) => `sha256-${bytes(32, seed).toString("base64")}`;
const image = (seed: number, length: number) =>
  `data:image/png;base64,${bytes(length, seed).toString("base64")}`;
const sha = (seed: number) => hex(40, seed);
const uuid = (seed: number) => {
  const h = hex(32, seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
};

export const BENIGN_LINES: readonly string[] = [
  // Git
  sha(1),
  `commit ${sha(2)}`,
  `Merge: ${sha(3).slice(0, 7)} ${sha(4).slice(0, 7)}`,
  `parent ${sha(5)} tree ${sha(6)}`,
  `HEAD is now at ${sha(7).slice(0, 12)} fix: handle empty token lists`,
  `refs/heads/main ${sha(8)}`,
  `https://github.com/acme/widgets/commit/${sha(9)}`,
  `https://github.com/acme/widgets/blob/${sha(10)}/src/index.ts#L10-L20`,
  `https://github.com/acme/widgets/compare/${sha(11).slice(0, 12)}...${sha(12).slice(0, 12)}`,
  `git fetch origin +refs/pull/12/head:refs/remotes/pr/12 # ${sha(13)}`,
  `Signed-off-by: Ada Lovelace <ada@example.com>`,
  `git clone git@github.com:acme/widgets.git`,
  `git+ssh://git@github.com:acme/widgets.git#${sha(14)}`,
  `ssh://git@gitlab.example.com:2222/acme/widgets.git`,
  // Identifiers, hashes and digests
  uuid(1),
  `request_id=${uuid(2)} trace_id=${hex(32, 3)} span_id=${hex(16, 4)}`,
  `x-github-request-id: ${hex(4, 5).toUpperCase()}:${hex(6, 6).toUpperCase()}:${hex(8, 7).toUpperCase()}`,
  `idempotency key add_issue_comment:acme/widgets/issues/12:${hex(16, 8)}`,
  `cache key ${hex(16, 9)} hit, etag "W/${hex(32, 10)}"`,
  `sha256:${hex(64, 11)}`,
  `ghcr.io/acme/bot@sha256:${hex(64, 12)}`,
  `md5 ${hex(32, 13)}  widgets-1.2.3.tgz`,
  `checksum: ${hex(64, 14)}`,
  `"shasum": "${sha(15)}"`,
  `installation_id=${81_234_567} app_id=1234567 repository_id=987654321`,
  `run 4f0c2a7e finished in 12.5s (job ${uuid(3)})`,
  // Encoded data
  image(1, 900),
  `<img src="${image(2, 600)}" alt="logo">`,
  `background: url("${image(3, 300)}") no-repeat;`,
  `attachment: ${bytes(120, 4).toString("base64")}`,
  `"content": "${bytes(200, 5).toString("base64")}", "encoding": "base64"`,
  `payload=${bytes(48, 6).toString("base64url")}`,
  // Lockfiles
  `  integrity sha512-${bytes(64, 7).toString("base64")}`,
  `      "integrity": "${integrity(8)}",`,
  `    resolution: {integrity: ${integrity(9)}}`,
  `  resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#${sha(16)}"`,
  `      "resolved": "https://registry.npmjs.org/@beauvoir/redactor/-/redactor-0.1.0.tgz",`,
  `/@types/node@20.19.43: resolution: {integrity: ${integrity(10)}}`,
  `lodash@^4.17.21:`,
  `"node_modules/@beauvoir/core": { "version": "0.1.0", "integrity": "${integrity(11)}" }`,
  `<script src="https://cdn.jsdelivr.net/npm/lit@3.1.0/index.min.js" integrity="${sha256(12)}" crossorigin="anonymous"></script>`,
  // URLs without credentials
  "GET https://api.github.com/repos/acme/widgets/issues?page=2&per_page=50&state=open 200 35ms",
  "https://example.com:8443/path/to/file.txt?version=3#section-2",
  `https://cdn.example.com/assets/app.${hex(8, 17)}.js`,
  `https://cdn.example.com/assets/app.js?v=${hex(10, 18)}`,
  `https://example.com/download/${hex(64, 19)}/widgets.tar.gz`,
  "https://unpkg.com/react@18.2.0/umd/react.production.min.js",
  "https://registry.npmjs.org/@beauvoir%2fredactor",
  "https://example.com/users/@ada/repos?sort=updated",
  "http://[::1]:8080/health and http://127.0.0.1:3000/ready",
  "postgres://localhost:5432/widgets?sslmode=disable",
  "redis://cache.internal:6379/0",
  "amqp://rabbit:5672/vhost",
  "https://github.com/login/oauth/authorize?client_id=Iv1.0123456789abcdef&state=xyz&scope=repo",
  "https://example.com/search?q=token+rotation&lang=en",
  "mailto:ada@example.com?subject=Password%20reset",
  "wss://stream.example.com/v1/events?channel=builds&since=1700000000",
  // Prose that talks about secrets
  "password: must contain 12 characters",
  "Password: must be at least 12 characters long and contain a digit",
  "token: expires after one hour of inactivity",
  "secret: never commit it to the repository",
  "The token is valid for one hour. Reset your password in the settings page.",
  "Keep the secret recipe safe. Press any key to continue. An API key identifies a project.",
  "Bearer tokens travel in a header; basic authentication sends a password.",
  "Use a fine-grained token with read access to contents and write access to issues.",
  "Rotate the GitHub App private key every 90 days; see the runbook.",
  "If the installation token expired, request a new one from the API.",
  "authorization required for this endpoint",
  "Cookie consent banner shown to 12% of visitors",
  "The webhook secret is configured in the repository settings.",
  "Tokens, passwords and keys are redacted before logging.",
  "Error: Bad credentials (401). Check that the token has not been revoked.",
  "warning: the password you entered is too short",
  // Code
  "token = tokens[i]",
  "const token = tokens[index];",
  "const token = await getInstallationToken(installationId);",
  "let password: string;",
  "password: string;",
  "  readonly token?: string;",
  "  token: string | undefined;",
  "function rotate(token: Token): Promise<Token> {",
  "if (token === undefined) throw new Error('missing token');",
  "if (password == null || password.length < 12) return false;",
  "token != null && token.length > 0",
  "tokens.map(token => token.trim())",
  "secret = os.environ['WEBHOOK_SECRET']",
  "password = os.getenv('DB_PASSWORD')",
  "api_key = settings.API_KEY",
  "token = self.token",
  "token := strings.TrimSpace(raw)",
  "password = request.form.get('password')",
  "auth = HTTPBasicAuth(user, password)",
  "for token in tokens:",
  // Template references, written as they appear in workflow files and shells.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal `${…}` is the point
  "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal `${…}` is the point
  "token: ${{ github.token }}",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal `${…}` is the point
  "password=${DB_PASSWORD}",
  "export GITHUB_TOKEN=$GITHUB_TOKEN",
  "SECRET_KEY=%SECRET_KEY%",
  "token: <your-token-here>",
  "password = '********'",
  "max_tokens=1024 token_count: 17 tokenizer=cl100k total_tokens=2048",
  "token_type=bearer expires_in=3600 password_policy=strict has_secret=true",
  '{"token_type":"bearer","expires_in":3600,"scope":"repo"}',
  '{"token": null, "password": "", "secret": false, "auth": true}',
  '{"tokenType":"bearer","passwordPolicy":"strict","secretName":"prod-db"}',
  "PASSWORD_MIN_LENGTH=12 TOKEN_TTL_SECONDS=3600 SECRET_ROTATION_DAYS=90",
  "npm_config_cache=/home/ada/.npm npm_package_version=1.2.3",
  "sk-learn and kebab-case-identifiers-like-this-one are fine",
  "AKIA is a prefix; AKIAshort is not a key; the key id is masked as AKIA****",
  'eyJ is the base64 of {" and eyJhbGciOiJIUzI1NiJ9 alone is only a header',
  "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
  "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----",
  "-----BEGIN PGP SIGNATURE-----\n\niQIzBAABCAAdFiEE\n-----END PGP SIGNATURE-----",
  // Logs
  "2025-01-01T10:00:00.000Z INFO [http] GET /api/v1/repos/acme/widgets/issues?page=3 200 41ms",
  '2025-01-01T10:00:01.001Z WARN [queue] job 12 retry attempt=2 delay=2000ms reason="ECONNRESET"',
  "Error: connect ECONNREFUSED 127.0.0.1:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
  "    at Object.<anonymous> (/app/node_modules/@octokit/request/dist-node/index.js:86:24)",
  "x-ratelimit-limit: 5000\nx-ratelimit-remaining: 4999\nx-ratelimit-reset: 1700000000",
  "retry-after: 60",
  "user=ada role=admin region=eu-west-1 attempt=3 delay=2000ms",
  "price: $12.50; ratio 3:2; time 10:42:07; IPv6 ::1 and fe80::1ff:fe23:4567:890a",
  '{ "name": "@beauvoir/redactor", "version": "0.1.0", "private": false }',
  "HOME=/root PATH=/usr/local/bin:/usr/bin NODE_ENV=production TZ=UTC",
  "Set-Cookie policy: SameSite=Lax for every session",
  "release v1.2.3 tagged; next is v1.3.0-beta.1",
  "Installed 214 packages in 3.2s; 0 vulnerabilities",
];
