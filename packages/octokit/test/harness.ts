// Boots a real Beauvoir app on a fresh data directory, starts the local
// GitHub-compatible server, and builds @octokit/rest with the plugin.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BootConfig, type BootResult, boot } from "@beauvoir/boot";
import { Octokit } from "@octokit/rest";
import { type BeauvoirOctokitApi, beauvoir } from "../src/index.js";
import type { BeauvoirPluginOptions } from "../src/plugin-options.js";
import {
  type GitHubServerOptions,
  type RunningGitHubServer,
  startGitHubServer,
} from "./github-server.js";

export const TOKEN = `ghp_${"T3stT0k3n".repeat(4)}`;
const BeauvoirOctokit = Octokit.plugin(beauvoir);
/** @octokit/rest with the plugin. */
export type BeauvoirOctokitInstance = Octokit & { beauvoir: BeauvoirOctokitApi };

/** Builds @octokit/rest with the plugin. */
export function beauvoirOctokit(options: Record<string, unknown>): BeauvoirOctokitInstance {
  return new BeauvoirOctokit(options);
}

export interface Harness {
  server: RunningGitHubServer;
  app: BootResult;
  octokit: BeauvoirOctokitInstance;
  dataDir: string;
  /** Shuts the app down (if still up), closes the server, removes the data. */
  close(): Promise<void>;
}

export interface HarnessOptions {
  server?: Partial<GitHubServerOptions>;
  boot?: Partial<BootConfig>;
  plugin?: Partial<BeauvoirPluginOptions>;
  /** Octokit's own `log` (silent by default). */
  log?: {
    debug(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
  };
}

/** Quick retries, so a test waits for what GitHub asks and little more. */
export const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 200 } as const;

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const server = await startGitHubServer({ token: TOKEN, ...options.server });
  const dataDir = await mkdtemp(join(tmpdir(), "beauvoir-octokit-"));
  const app = await boot({
    dataDir,
    log: { level: "silent" },
    retry: FAST_RETRY,
    rateLimiter: { secondaryDefaultWaitMs: 300 },
    ...options.boot,
  });
  const octokit = beauvoirOctokit({
    auth: TOKEN,
    baseUrl: server.url,
    log: options.log ?? { debug() {}, info() {}, warn() {}, error() {} },
    beauvoir: { app, ...options.plugin },
  });
  return {
    server,
    app,
    octokit,
    dataDir,
    async close() {
      await app.shutdown();
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The audit trail's records, parsed. */
export async function auditRecords(dataDir: string): Promise<Array<Record<string, unknown>>> {
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(join(dataDir, "audit", "audit.jsonl"), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
