// A bot about to log a failed GitHub call: the request carries its token in a
// header, the URL carries a database password, and the error message repeats
// the token. The redactor removes each secret and says what kind it was; the
// logger does the same to everything before a single byte is written.
//
// expect: line: git push https://x-access-token:[REDACTED:github-pat]@github.com/acme/widgets.git
// expect: DATABASE_URL=postgres://bot:[REDACTED:url-password]@db/app password=[REDACTED:password]
// expect: headers: {"authorization":"[REDACTED:authorization]","accept":"application/vnd.github+json"}
// expect: error: GitHubError: 401 for token [REDACTED:github-pat]
// expect: "level":"error","time":"2025-01-01T00:00:00.000Z","msg":"comment failed","prefix":"agent:github"
// expect: raw token written: no
import { ManualClock } from "@beauvoir/core";
import { createLogger, jsonLinesSink, SecretRedactor } from "@beauvoir/redactor";

// A fake classic GitHub token: ghp_ and 36 letters and digits (built here so
// that no token-shaped literal sits in the source).
const token = `ghp_${"A1b2C3d4E5f6".repeat(3)}`;

const redactor = new SecretRedactor();

// 1. A line of text: typed placeholders, key names kept.
const line = [
  `git push https://x-access-token:${token}@github.com/acme/widgets.git`,
  "DATABASE_URL=postgres://bot:hunter2@db/app password=hunter2",
].join("\n");
console.log(`line: ${redactor.redact(line)}`);

// 2. A structure: credential headers are replaced whole, whatever they hold.
const request = {
  headers: { authorization: `token ${token}`, accept: "application/vnd.github+json" },
};
console.log(`headers: ${JSON.stringify((redactor.redactAny(request) as typeof request).headers)}`);

// 3. An error: a new Error with the same name; the original is untouched.
class GitHubError extends Error {
  override name = "GitHubError";
}
const failure = new GitHubError(`401 for token ${token}`, { cause: request });
const safe = redactor.redactError(failure);
console.log(`error: ${safe.name}: ${safe.message}`);

// 4. The logger: JSON lines for production, a child per subsystem, and a
// fixed clock so this example prints the same time on every run.
const written: string[] = [];
const logger = createLogger(redactor, {
  prefix: "agent",
  sink: jsonLinesSink({ write: (chunk: string) => written.push(chunk) }),
  clock: new ManualClock(Date.UTC(2025, 0, 1)),
});
logger.child("github").error("comment failed", { error: failure, request });
process.stdout.write(written.join(""));
console.log(`raw token written: ${written.join("").includes(token) ? "yes" : "no"}`);
