import { createHash } from "node:crypto";
import { mkdtemp, open, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { AuditTrail } from "@beauvoir/audit-trail";
import { type BenchRow, compare, measured, medianMs } from "../harness.js";

const SUITE = "audit-trail";
const TEN_MIB = 10 * 1024 * 1024;
const WRITERS = 64;
const RECORDS_PER_WRITER = 24;

/** A typical intent: a comment on an issue, ~400 bytes as a line. */
const entry = (index: number) => ({
  action: "add_issue_comment",
  target: `acme/app#${index % 500}`,
  params: {
    body: `Triage bot: labelled this as needing a reproduction (run ${index}). Please add steps.`,
    labels: ["needs-repro", "triage"],
    meta: { attempt: 1, source: "scheduler" },
  },
  dedupeKey: `add_issue_comment:acme/app#${index % 500}:${index}`,
});

/**
 * (a) raw `write`+`fsync` of same-size lines against (b) sequential
 * `recordIntent`; (c) 64 concurrent writers with group commit against (b);
 * (d) `verifyChain()` against `JSON.parse` + SHA-256 of the same lines;
 * (e) `initialize()` of a 10 MiB file. All files in the OS temp directory.
 */
export default async function auditTrailSuite(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), "beauvoir-bench-audit-"));
  try {
    const rows: BenchRow[] = [];

    // (a) and (b): one record at a time, each fsynced before the next.
    const trail = new AuditTrail({
      path: join(dir, "sequential.jsonl"),
      maxSizeBytes: Number.POSITIVE_INFINITY,
    });
    await trail.initialize();
    let index = 0;
    await trail.recordIntent(entry(index++));
    const lineBytes = (await stat(join(dir, "sequential.jsonl"))).size;
    const line = Buffer.from(`${"x".repeat(lineBytes - 1)}\n`);
    const raw = await open(join(dir, "raw.jsonl"), "a", 0o600);
    const sequential = await compare({
      suite: SUITE,
      case: `(b) sequential recordIntent vs (a) raw write+fsync, ${lineBytes} B lines`,
      ours: { label: "recordIntent", op: () => trail.recordIntent(entry(index++)) },
      peer: {
        label: "fs write+fsync",
        op: async () => {
          await raw.write(line, 0, line.length, null);
          await raw.sync();
        },
      },
      // fsync latency on a shared disk is noisy: more, interleaved rounds.
      rounds: 9,
      roundMs: 500,
      target: { atLeast: 0.8 },
    });
    await raw.close();
    rows.push(sequential);

    // (c): 64 writers, each awaiting its own records one after another.
    const concurrentMs = await medianMs(async () => {
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          for (let count = 0; count < RECORDS_PER_WRITER; count++)
            await trail.recordIntent(entry(index++));
        }),
      );
    }, 5);
    await trail.close();
    const concurrentRate = (WRITERS * RECORDS_PER_WRITER * 1000) / concurrentMs;
    rows.push(
      measured({
        suite: SUITE,
        case: `(c) ${WRITERS} concurrent writers (group commit) vs (b)`,
        unit: "records/s",
        ours: { label: `${WRITERS} writers`, value: concurrentRate },
        peer: { label: "sequential recordIntent", value: sequential.ours.value },
        value: concurrentRate / sequential.ours.value,
        target: { atLeast: 10 },
      }),
    );

    // A 10 MiB file of intents with their results, for (d) and (e).
    const bigPath = join(dir, "big.jsonl");
    const writer = new AuditTrail({ path: bigPath, maxSizeBytes: Number.POSITIVE_INFINITY });
    await writer.initialize();
    let size = 0;
    for (let batch = 0; size < TEN_MIB; batch++) {
      const seqs = await Promise.all(
        Array.from({ length: 256 }, (_, offset) =>
          writer.recordIntent(entry(batch * 256 + offset)),
        ),
      );
      await Promise.all(
        seqs.map((seq) =>
          writer.recordResult(seq, {
            id: seq,
            url: `https://github.com/acme/app/issues/1#issuecomment-${seq}`,
          }),
        ),
      );
      size = (await stat(bigPath)).size;
    }
    const records = writer.lastSeq;
    await writer.close();

    // (d): the baseline does the irreducible work of a verifier: parse each line, hash each line.
    const reader = new AuditTrail({ path: bigPath, maxSizeBytes: Number.POSITIVE_INFINITY });
    await reader.initialize();
    rows.push(
      await compare({
        suite: SUITE,
        case: `(d) verifyChain() vs JSON.parse + SHA-256 per line, ${(size / 1024 / 1024).toFixed(1)} MiB`,
        ours: {
          label: "verifyChain",
          op: async () => {
            const result = await reader.verifyChain();
            if (!result.valid) throw new Error("bench file does not verify");
          },
        },
        peer: {
          label: "JSON.parse + sha256",
          op: async () => {
            const buffer = await readFile(bigPath);
            for (let start = 0; start < buffer.length; ) {
              const end = buffer.indexOf(10, start);
              JSON.parse(buffer.toString("utf8", start, end));
              createHash("sha256").update(buffer.subarray(start, end)).digest("hex");
              start = end + 1;
            }
          },
        },
        bytesPerOp: size,
        rounds: 5,
        roundMs: 600,
        target: { atLeast: 0.8 },
      }),
    );
    await reader.close();

    // (e): recovery reads, verifies and indexes the whole file (close() not timed).
    const initializeTimes: number[] = [];
    for (let run = 0; run < 7; run++) {
      const started = performance.now();
      const recovering = new AuditTrail({ path: bigPath, maxSizeBytes: Number.POSITIVE_INFINITY });
      await recovering.initialize();
      initializeTimes.push(performance.now() - started);
      await recovering.close();
    }
    const initializeMs = initializeTimes.sort((left, right) => left - right)[3]!;
    rows.push(
      measured({
        suite: SUITE,
        case: `(e) initialize() of a ${(size / 1024 / 1024).toFixed(1)} MiB file (${records} records)`,
        unit: "ms",
        ours: { label: "initialize", value: initializeMs },
        target: { atMost: 150 },
      }),
    );
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
