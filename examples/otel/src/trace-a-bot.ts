// Runs a few steps of a bot (one hits a secondary rate limit, one keeps
// failing) with the bridge on, and prints the spans. `pnpm --filter
// @beauvoir/example-otel start`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boot } from "@beauvoir/boot";
import {
  BasicTracerProvider,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { bridgeToOpenTelemetry } from "./otel-bridge.js";

const provider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())],
});
const stop = bridgeToOpenTelemetry(provider.getTracer("triage-bot"));
const dataDir = await mkdtemp(join(tmpdir(), "beauvoir-otel-"));
const app = await boot({ dataDir, log: { level: "silent" }, retry: { baseDelayMs: 50 } });
let calls = 0;
await app.executor.execute({
  action: "add_labels",
  scope: "acme/widgets",
  resource: "issue-12",
  params: { labels: ["bug"] },
  run: async () => {
    // The first answer is GitHub's secondary limit: the limiter holds the retry for a second.
    if (++calls === 1) {
      throw Object.assign(new Error("You have exceeded a secondary rate limit."), {
        status: 403,
        response: { status: 403, headers: { "retry-after": "1" }, data: {} },
      });
    }
    return { labels: ["bug"] };
  },
});
await app.executor
  .execute({
    action: "create_branch",
    scope: "acme/widgets",
    resource: "branch-fix",
    params: { sha: "abc" },
    run: async () => {
      throw Object.assign(new Error("Server Error"), { status: 502 });
    },
  })
  .catch(() => {});
await app.shutdown();
stop();
await provider.shutdown();
await rm(dataDir, { recursive: true, force: true });
