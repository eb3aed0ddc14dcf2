import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boot } from "@beauvoir/boot";
import { beauvoir } from "@beauvoir/octokit";
import { Octokit } from "@octokit/rest";
import { type BenchRow, compare } from "../harness.js";

const TOKEN = `ghp_${"B3nchT0k3n".repeat(4)}`;
const ISSUE = JSON.stringify({
  id: 1,
  number: 1,
  title: "Crash on start",
  state: "open",
  labels: [],
  user: { login: "octocat", id: 1, type: "User" },
  body: "It crashes.",
});

/**
 * `octokit.rest.issues.get()` against a GitHub-shaped server on 127.0.0.1,
 * through @octokit/rest with the plugin and through a plain @octokit/rest in
 * the same process, alternating rounds. A read goes through the rate limiter
 * and the route's breaker and its quota headers are taken in; nothing is
 * written to disk. Both sides pay for the same local HTTP round trip, the
 * largest part of either; the ratio is the plugin's cost on a read.
 */
export default async function octokitSuite(): Promise<BenchRow[]> {
  const reset = String(Math.floor(Date.now() / 1000) + 3_600);
  const server = createServer((request, response) => {
    request.resume();
    response.writeHead(200, {
      "content-type": "application/json; charset=utf-8",
      "x-ratelimit-limit": "1000000000",
      "x-ratelimit-remaining": "999999999",
      "x-ratelimit-reset": reset,
      "x-ratelimit-resource": "core",
    });
    response.end(ISSUE);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dataDir = await mkdtemp(join(tmpdir(), "beauvoir-bench-octokit-"));
  // The limiter's defaults (100 requests per hour per workflow) would stop the bench at once.
  const unlimited = { capacity: 1_000_000_000, refillPerHour: 1_000_000_000 };
  const app = await boot({
    dataDir,
    log: { level: "silent" },
    rateLimiter: { global: unlimited, perWorkflow: unlimited },
  });
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const plain = new Octokit({ auth: TOKEN, baseUrl, log: quiet });
  const withPlugin = new (Octokit.plugin(beauvoir))({
    auth: TOKEN,
    baseUrl,
    log: quiet,
    beauvoir: { app },
  });
  const issue = { owner: "acme", repo: "widgets", issue_number: 1 };
  try {
    await withPlugin.beauvoir.ready;
    const read = await compare({
      suite: "octokit",
      case: "a read: issues.get() over HTTP on 127.0.0.1",
      ours: {
        label: "@octokit/rest + @beauvoir/octokit",
        op: () => withPlugin.rest.issues.get(issue),
      },
      peer: { label: "@octokit/rest", op: () => plain.rest.issues.get(issue) },
      target: { atLeast: 0.8 },
      note: "limiter, breaker and quota headers on every read; nothing recorded",
    });
    return [read];
  } finally {
    await app.shutdown();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  }
}
