// Two workflows crawl a GitHub-like API on 127.0.0.1 through one RateLimiter.
// Each has its own small bucket and both share a global one; when the server
// answers with GitHub's secondary rate limit (403, retry-after: 1), the limiter
// holds every workflow back until the retry-after has passed.
//
// expect: refused by the workflow bucket, retry after 500 ms
// expect: secondary rate limit recorded: every workflow held back for 1000 ms
// expect: no request was sent during the block
// expect: crawled 10 pages (triage 6, labels 4)
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ManualClock } from "@beauvoir/core";
import { RateLimiter } from "@beauvoir/rate-limiter";

// --- A tiny stand-in for api.github.com: its 4th request gets a secondary limit.
let requests = 0;
const server = createServer((request, response) => {
  if (++requests === 4) {
    response.writeHead(403, { "content-type": "application/json", "retry-after": "1" });
    response.end(
      JSON.stringify({
        message:
          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      }),
    );
    return;
  }
  response.writeHead(200, { "content-type": "application/json" });
  response.end(JSON.stringify({ url: request.url }));
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// --- The limiter: small buckets so the example runs in about two seconds.
const limiter = new RateLimiter({
  global: { capacity: 8, refillPerHour: 36_000 }, // 10 a second for everyone together
  perWorkflow: { capacity: 3, refillPerHour: 7_200 }, // 2 a second for each workflow
});

// tryConsume never waits: it says which bucket is short and for how long
// (on a ManualClock here, so the figure does not depend on this machine's speed).
const probe = new RateLimiter({
  clock: new ManualClock(),
  perWorkflow: { capacity: 1, refillPerHour: 7_200 },
});
probe.tryConsume("probe");
const refusal = probe.tryConsume("probe");
if (!refusal.allowed) {
  console.log(`refused by the ${refusal.bucket} bucket, retry after ${refusal.retryAfterMs} ms`);
}
probe.shutdown();

let blockStartedAt = 0;
let blockEndsAt = 0;
const sentAt: number[] = [];

async function crawl(workflowId: string, pages: number): Promise<number> {
  let fetched = 0;
  for (let page = 1; page <= pages; ) {
    await limiter.consume(workflowId, { signal: AbortSignal.timeout(10_000) }); // waits for a token
    sentAt.push(Date.now());
    const response = await fetch(`${baseUrl}/repos/demo/issues?page=${page}&by=${workflowId}`);
    const body: unknown = await response.json();
    if (response.ok) {
      limiter.recordSuccess(workflowId);
      fetched++;
      page++;
      continue;
    }
    // Not ok: let the limiter read GitHub's headers and body, then try the page again.
    // (Boot's step executor does this by itself for every step.)
    const limit = limiter.recordRateLimitFailure(
      { status: response.status, headers: response.headers, body },
      workflowId,
    );
    if (limit === null) throw new Error(`unexpected ${response.status}`);
    const { kind } = limit;
    blockStartedAt = Date.now();
    blockEndsAt = limiter.blockedUntil ?? blockStartedAt;
    console.log(
      `${kind} rate limit recorded: every workflow held back for ${Math.round((blockEndsAt - blockStartedAt) / 100) * 100} ms`,
    );
  }
  return fetched;
}

const [triage, labels] = await Promise.all([crawl("triage", 6), crawl("labels", 4)]);
limiter.shutdown();
server.close();

const duringBlock = sentAt.filter((at) => at >= blockStartedAt && at < blockEndsAt).length;
console.log(
  duringBlock === 0
    ? "no request was sent during the block"
    : `${duringBlock} requests were sent during the block`,
);
console.log(`crawled ${triage + labels} pages (triage ${triage}, labels ${labels})`);
