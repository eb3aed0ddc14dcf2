// Issue 11, finding 3 and "one rule, enforced in one place": boot, steps and a
// workflow whose params, results, errors, resources and inputs carry fake
// secrets of several families; then every byte under the data directory and
// every log line is searched for each secret, raw and encoded.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boot } from "../src/index.js";
import { captureSink } from "./boot-data-dir.js";
import { encodedForms, type FakeSecret, fakeSecrets } from "./secret-tokens.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-secrets-e2e-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function filesUnder(directory: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else files.push(path);
  }
  return files;
}

interface Hit {
  family: string;
  where: string;
  form: number;
}

function search(secrets: FakeSecret[], where: string, text: string): Hit[] {
  const hits: Hit[] = [];
  for (const secret of secrets) {
    encodedForms(secret.secret).forEach((form, index) => {
      let from = text.indexOf(form);
      while (from !== -1) {
        hits.push({ family: secret.family, where, form: index });
        from = text.indexOf(form, from + 1);
      }
    });
  }
  return hits;
}

describe("no secret handed to boot, its steps or its workflows reaches a file or a log line", () => {
  it("every family, in every place a caller hands one over: 0 raw or encoded occurrences", async () => {
    const secrets = fakeSecrets();
    const value = (family: string) =>
      secrets.find((secret) => secret.family === family)?.value as string;
    const dataDir = join(root, "data");
    const { lines, sink } = captureSink();
    const config = {
      dataDir,
      log: { level: "debug" as const, sink },
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      // A tool outside the policy: the health warning quotes its name.
      actionPolicy: { tools: { add_labels: {}, add_issue_comment: {}, create_review: {} } },
      toolNames: [
        "add_labels",
        "add_issue_comment",
        "create_review",
        `tool ${value("github-pat")}`,
      ],
    };
    const app = await boot(config);
    let workflowRun = "";
    try {
      expect(app.mode).toBe("autonomous");
      // Params carrying every family.
      await app.executor.execute({
        action: "add_issue_comment",
        scope: "acme/widgets",
        resource: "issues/1",
        params: {
          body: secrets.map((secret) => secret.value).join("\n"),
          authorization: `token ${value("github-pat")}`,
          nested: { remote: value("url-password"), jwt: value("jwt") },
          // A token right after an escaped newline inside JSON text, and percent-encoded.
          jsonText: JSON.stringify({ log: `line one\n${value("github-app-stateless")}` }),
          query: `state=%22${encodeURIComponent(value("github-app"))}%22&next=%3D${value("github-oauth")}`,
        },
        run: async () => ({ id: 1 }),
      });
      // A result `{ token }`, and other secrets in the result.
      await app.executor.execute({
        action: "add_labels",
        scope: "acme/widgets",
        resource: "issues/2",
        params: { labels: ["bug"] },
        run: async () => ({
          token: value("github-oauth"),
          aws: value("aws-key"),
          slack: value("slack-token"),
          installation: {
            token: value("github-app-stateless"),
            expires_at: "2026-01-01T00:00:00Z",
          },
          env: `${value("private-key-after-env-name")}\n${value("azure-account-key")}\n${value("npm-auth")}`,
        }),
      });
      // A failure whose message holds a URL with a token (retried, then failed).
      await expect(
        app.executor.execute({
          action: "add_labels",
          scope: "acme/widgets",
          resource: "issues/3",
          params: { labels: ["x"] },
          run: async () => {
            throw new Error(
              `GET ${value("access-token-param")} failed: socket hang up (${value("bearer")}); remote ${value("long-url-password")}; ${value("x-auth-token")}`,
            );
          },
        }),
      ).rejects.toThrow();
      // A resource holding ?access_token=.
      await app.executor.execute({
        action: "add_labels",
        scope: "acme/widgets",
        resource: `issues/4?access_token=${secrets.find((s) => s.family === "access-token-param")?.secret}`,
        params: { labels: ["y"] },
        run: async () => ({ ok: true }),
      });
      // A resource holding the stateless installation token.
      await app.executor.execute({
        action: "add_labels",
        scope: "acme/widgets",
        resource: `contents/README.md?access_token=${value("github-app-stateless")}`,
        params: { labels: ["z"] },
        run: async () => ({ ok: true }),
      });
      // A workflow whose input holds tokens, a step keyed on one, a step
      // returning secrets and a step failing with one in its message.
      workflowRun = await app.workflows.start(
        {
          name: "deploy",
          steps: [
            {
              name: "keyed-on-token",
              action: "add_labels",
              identify: ({ input }) => ({
                scope: "acme/widgets",
                resource: "issues/5",
                params: { credential: (input as { token: string }).token },
              }),
              run: async () => ({ jwt: value("jwt"), remote: value("url-password") }),
            },
            {
              name: "review",
              action: "create_review",
              run: async () => {
                throw Object.assign(
                  new Error(`rejected: ${value("private-key")} ${value("slack-token")}`),
                  {
                    status: 422,
                    headers: {},
                  },
                );
              },
            },
          ],
        },
        {
          token: value("github-fine-grained"),
          note: value("private-key"),
          slack: value("slack-token"),
          installation: value("github-app-stateless"),
          legacy: `installation token ${value("github-app-legacy")}`,
          headers: [value("gitlab-bearer"), value("x-auth-token")],
        },
      );
      const run = await app.workflows.run(workflowRun);
      expect(run.status).toBe("failed");
      // The app logs a secret carelessly.
      app.services.logger.info(`calling ${value("url-password")} with ${value("bearer")}`, {
        headers: { authorization: value("bearer") },
        token: value("github-pat"),
        remote: `https://x-access-token:${value("github-app-stateless")}@github.com/acme/widgets.git`,
      });
      app.services.logger.warn(`git push failed for ${value("long-url-password")}`, {
        error: new Error(
          `clone of https://${value("github-app-stateless")}@github.com/acme/widgets failed`,
        ),
      });
    } finally {
      await app.shutdown();
    }
    // A second boot writes its own records over what the first left.
    const again = await boot(config);
    await again.shutdown();

    const files = await filesUnder(dataDir);
    expect(files.length).toBeGreaterThan(5);
    const hits: Hit[] = [];
    for (const file of files) {
      hits.push(
        ...search(
          secrets,
          file.slice(dataDir.length + 1),
          (await readFile(file)).toString("latin1"),
        ),
      );
    }
    for (const [number, line] of lines.entries())
      hits.push(...search(secrets, `log line ${number + 1}`, line));
    expect(lines.length).toBeGreaterThan(10);
    expect(hits).toEqual([]);
  });
});
