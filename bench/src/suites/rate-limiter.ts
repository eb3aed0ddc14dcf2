import { RateLimiter } from "@beauvoir/rate-limiter";
import { RateLimiter as PeerRateLimiter, TokenBucket } from "limiter";
import { type BenchRow, compare } from "../harness.js";

/** Big enough that no bucket runs dry during the timed rounds. */
const PLENTY = 2_000_000_000;
const WORKFLOWS = 10_000;
const ids = Array.from({ length: WORKFLOWS }, (_, index) => `workflow-${index}`);

/**
 * `tryConsume()` beside `limiter`@3's `RateLimiter.tryRemoveTokens(1)`, with
 * tokens to spare and with an empty bucket. Ours always checks two buckets
 * (global and the workflow's), the peer one. A third case gives the peer the
 * same two-level shape (a child `TokenBucket` per workflow in a Map, under a
 * parent bucket) over 10,000 workflows.
 */
export default async function rateLimiterSuite(): Promise<BenchRow[]> {
  const roomy = new RateLimiter({
    global: { capacity: PLENTY, refillPerHour: PLENTY },
    perWorkflow: { capacity: PLENTY, refillPerHour: PLENTY },
    cleanupIntervalMs: Number.POSITIVE_INFINITY,
  });
  const roomyPeer = new PeerRateLimiter({ tokensPerInterval: PLENTY, interval: "hour" });

  const empty = new RateLimiter({
    global: { capacity: 1, refillPerHour: 1 },
    cleanupIntervalMs: Number.POSITIVE_INFINITY,
  });
  empty.tryConsume("bench");
  const emptyPeer = new PeerRateLimiter({ tokensPerInterval: 1, interval: "hour" });
  emptyPeer.tryRemoveTokens(1);

  const many = new RateLimiter({
    global: { capacity: PLENTY, refillPerHour: PLENTY },
    perWorkflow: { capacity: PLENTY, refillPerHour: PLENTY },
    cleanupIntervalMs: Number.POSITIVE_INFINITY,
  });
  const peerParent = new TokenBucket({
    bucketSize: PLENTY,
    tokensPerInterval: PLENTY,
    interval: "hour",
  });
  peerParent.content = PLENTY;
  const peerChildren = new Map<string, TokenBucket>();
  let next = 0;
  let nextPeer = 0;

  try {
    const allowed = await compare({
      suite: "rate-limiter",
      case: "tryConsume, allowed (one workflow)",
      ours: { label: "@beauvoir/rate-limiter", op: () => roomy.tryConsume("bench") },
      peer: { label: "limiter@3 tryRemoveTokens", op: () => roomyPeer.tryRemoveTokens(1) },
      target: { atLeast: 1.0 },
    });
    const refused = await compare({
      suite: "rate-limiter",
      case: "tryConsume, refused (empty bucket)",
      ours: { label: "@beauvoir/rate-limiter", op: () => empty.tryConsume("bench") },
      peer: { label: "limiter@3 tryRemoveTokens", op: () => emptyPeer.tryRemoveTokens(1) },
      target: { atLeast: 1.0 },
    });
    const spread = await compare({
      suite: "rate-limiter",
      case: `tryConsume over ${WORKFLOWS.toLocaleString("en-US")} workflows`,
      ours: {
        label: "@beauvoir/rate-limiter",
        op: () => many.tryConsume(ids[next++ % WORKFLOWS]!),
      },
      peer: {
        label: "limiter@3 TokenBucket per workflow + parent",
        op: () => {
          const id = ids[nextPeer++ % WORKFLOWS]!;
          let bucket = peerChildren.get(id);
          if (bucket === undefined) {
            bucket = new TokenBucket({
              bucketSize: PLENTY,
              tokensPerInterval: PLENTY,
              interval: "hour",
              parentBucket: peerParent,
            });
            bucket.content = PLENTY;
            peerChildren.set(id, bucket);
          }
          return bucket.tryRemoveTokens(1);
        },
      },
      target: { atLeast: 1.0 },
      note: "peer given the same two-level shape by hand",
    });
    return [allowed, refused, spread];
  } finally {
    roomy.shutdown();
    empty.shutdown();
    many.shutdown();
  }
}
