import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "@beauvoir/core";
import { type IdempotencyEntry, IdempotencyIndex } from "@beauvoir/idempotency";
import { ResilientJsonStore } from "@beauvoir/resilient-store";
import { type BenchRow, compare, measured, medianMs, type Subject } from "../harness.js";

const SMALL = 100;
const LARGE = 10_000;
const TTL_MS = 1000;

/**
 * An index holding `existing` pending entries (pending entries are never
 * evicted). Each op claims and completes a fresh key; after each round the
 * clock passes the TTL and `evict()` drops the round's keys, so the size stays
 * at `existing` for every round.
 */
async function journaledSubject(label: string, existing: number) {
  const dir = await mkdtemp(join(tmpdir(), "bench-idem-"));
  const clock = new ManualClock(Date.now());
  const index = new IdempotencyIndex({ dir, clock, ttlMs: TTL_MS });
  await index.initialize();
  await Promise.all(
    Array.from({ length: existing }, (_, n) => index.markPending(`base:${n}`, n + 1, "skip")),
  );
  let next = 0;
  const subject: Subject = {
    label,
    op: async () => {
      const key = `op:${label}:${next++}`;
      await index.markPending(key, next, "skip");
      await index.markCompleted(key, { ok: true });
    },
    afterRound: async () => {
      clock.advance(TTL_MS);
      await index.evict();
    },
  };
  return {
    subject,
    close: async () => {
      await index.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The naive design: every transition rewrites the whole index through the resilient store. */
async function wholeStoreSubject(label: string, existing: number) {
  const dir = await mkdtemp(join(tmpdir(), "bench-idem-naive-"));
  const store = new ResilientJsonStore<{ entries: IdempotencyEntry[] }>({
    path: join(dir, "index.json"),
    maxSizeBytes: 256 * 1024 * 1024,
  });
  const entries = new Map<string, IdempotencyEntry>();
  const now = Date.now();
  for (let n = 0; n < existing; n += 1) {
    const key = `base:${n}`;
    entries.set(key, {
      key,
      status: "pending",
      intentSeq: n + 1,
      strategy: "skip",
      action: "base",
      createdAt: now,
      updatedAt: now,
    });
  }
  await store.set({ entries: [...entries.values()] });
  let next = 0;
  const subject: Subject = {
    label,
    op: async () => {
      const key = `op:${next++}`;
      const pending: IdempotencyEntry = {
        key,
        status: "pending",
        intentSeq: next,
        strategy: "skip",
        action: "op",
        createdAt: now,
        updatedAt: now,
      };
      entries.set(key, pending);
      await store.set({ entries: [...entries.values()] });
      entries.set(key, { ...pending, status: "completed", result: { ok: true } });
      await store.set({ entries: [...entries.values()] });
    },
    afterRound: () => {
      for (const key of entries.keys()) if (key.startsWith("op:")) entries.delete(key);
    },
  };
  return { subject, close: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Durable markPending+markCompleted per second: with 10 000 existing entries
 * against 100 (the cost must not grow with the index: ratio ~1), against the
 * naive rewrite-the-whole-store-per-transition design at 10 000 entries, and
 * with 32 concurrent callers sharing fsyncs (group commit).
 */
export default async function idempotencySuite(): Promise<BenchRow[]> {
  const large = await journaledSubject(`@beauvoir/idempotency, ${LARGE} entries`, LARGE);
  const small = await journaledSubject(`@beauvoir/idempotency, ${SMALL} entries`, SMALL);
  const naive = await wholeStoreSubject(`whole-store rewrite, ${LARGE} entries`, LARGE);
  try {
    const scaling = await compare({
      suite: "idempotency",
      case: `pending+completed, ${LARGE} vs ${SMALL} existing entries`,
      ours: large.subject,
      peer: small.subject,
      rounds: 5,
      roundMs: 400,
      target: { atLeast: 0.8 },
      note: "both sides are the journaled index (2 fsyncs per op); ratio ~1 = cost independent of size",
    });
    // The naive design takes tens of ms per op at this size: time single ops
    // instead of the harness's 64-op batches.
    const naiveMs = await medianMs(naive.subject.op, 7);
    const naiveRate = 1000 / naiveMs;
    const baseline = measured({
      suite: "idempotency",
      case: `pending+completed at ${LARGE} entries vs rewriting the store`,
      unit: "ops/s",
      ours: { label: large.subject.label, value: scaling.ours.value },
      peer: { label: naive.subject.label, value: naiveRate },
      value: scaling.ours.value / naiveRate,
      target: { atLeast: 5 },
      note: "peer: ResilientJsonStore.set of all entries per transition (median of 7 ops)",
    });
    const batchMs = await medianMs(
      () => Promise.all(Array.from({ length: 32 }, () => large.subject.op())),
      7,
    );
    const concurrentRate = (32 * 1000) / batchMs;
    const concurrent = measured({
      suite: "idempotency",
      case: `32 concurrent pending+completed at ${LARGE} entries vs sequential`,
      unit: "ops/s",
      ours: { label: "32 concurrent callers", value: concurrentRate },
      peer: { label: "1 caller", value: scaling.ours.value },
      value: concurrentRate / scaling.ours.value,
      target: { atLeast: 2 },
      note: "group commit: concurrent transitions share one write+fsync",
    });
    await large.subject.afterRound?.();
    return [scaling, baseline, concurrent];
  } finally {
    await large.close();
    await small.close();
    await naive.close();
  }
}
