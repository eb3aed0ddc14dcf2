import { join } from "node:path";
import type { FileSystem } from "@beauvoir/core";
import type { AuditRecord, DedupeKeyResult, IntentResult } from "./audit-record.js";
import { scanChain } from "./chain-scanner.js";
import { AuditCorruptError, AuditReadError } from "./errors.js";
import { readHistoryFile } from "./history-file-reader.js";
import type { HistoryLayout } from "./segments.js";

/** Where the latest result for a dedupeKey is. */
interface DedupeEntry {
  intentSeq: number;
  resultSeq: number;
  ts: string;
}

/** The results of one rotated file, read when a query reaches back before the current file. */
type SegmentResults = Map<number, IntentResult>;

const SEGMENT_CACHE = 3;

/** @internal The result of a `result` record, as the index keeps it. */
export function intentResultOf(record: Pick<AuditRecord, "error" | "result">): IntentResult {
  const entry: IntentResult = { hasResult: true };
  if (record.error !== undefined) entry.error = record.error;
  if (record.result !== undefined) entry.result = record.result;
  return entry;
}

/**
 * "Did it happen?" for the whole history: the results of the current file
 * (by intent seq, in memory), the latest result of every dedupeKey (over
 * every file, built while `initialize()` verifies them), and, for intents in
 * rotated files, those files' results, read on demand and cached (the 3 most
 * recently used).
 */
export class ResultIndex {
  readonly #fs: FileSystem;
  readonly #layout: HistoryLayout;
  readonly #hmacKey: Uint8Array | undefined;
  #current = new Map<number, IntentResult>();
  readonly #byDedupeKey: Map<string, DedupeEntry>;
  /** Rotated files oldest first, with the seq of their first record. */
  readonly #segments: { name: string; firstSeq: number }[];
  #currentFirstSeq: number;
  readonly #cache = new Map<string, SegmentResults>();

  constructor(init: {
    fs: FileSystem;
    layout: HistoryLayout;
    hmacKey: Uint8Array | undefined;
    current: Map<number, IntentResult>;
    byDedupeKey: Map<string, DedupeEntry>;
    segments: { name: string; firstSeq: number }[];
    currentFirstSeq: number;
  }) {
    this.#fs = init.fs;
    this.#layout = init.layout;
    this.#hmacKey = init.hmacKey;
    this.#current = init.current;
    this.#byDedupeKey = init.byDedupeKey;
    this.#segments = init.segments;
    this.#currentFirstSeq = init.currentFirstSeq;
  }

  /** Notes a result record now in the current file. */
  add(
    record: Pick<AuditRecord, "seq" | "ts" | "error" | "result">,
    intentSeq: number,
    dedupeKey: string | undefined,
  ): void {
    this.#current.set(intentSeq, intentResultOf(record));
    if (dedupeKey !== undefined) {
      this.#byDedupeKey.set(dedupeKey, { intentSeq, resultSeq: record.seq, ts: record.ts });
    }
  }

  /** The current file became the rotated file `name`; the next one starts at `nextFirstSeq`. */
  rotated(name: string, nextFirstSeq: number): void {
    this.#segments.push({ name, firstSeq: this.#currentFirstSeq });
    this.#currentFirstSeq = nextFirstSeq;
    this.#current = new Map();
  }

  /** Whether an intent of the current file has a result. */
  hasCurrentResult(intentSeq: number): boolean {
    return this.#current.has(intentSeq);
  }

  /** The result of an intent, or `null`. */
  async byIntentSeq(intentSeq: number): Promise<IntentResult | null> {
    const found = this.#current.get(intentSeq);
    if (found) return { ...found };
    if (!(Number.isSafeInteger(intentSeq) && intentSeq >= 1 && intentSeq < this.#currentFirstSeq))
      return null;
    // Newest first: the first file that starts at or before the seq holds it.
    for (let index = this.#segments.length - 1; index >= 0; index--) {
      const segment = this.#segments[index]!;
      if (segment.firstSeq <= intentSeq) {
        const result = (await this.#segmentResults(segment.name)).get(intentSeq);
        return result ? { ...result } : null;
      }
    }
    return null;
  }

  /** The latest result for a (stored, redacted) dedupeKey, or `null`. */
  async byDedupeKey(dedupeKey: string): Promise<DedupeKeyResult | null> {
    const entry = this.#byDedupeKey.get(dedupeKey);
    if (!entry) return null;
    const found = await this.byIntentSeq(entry.intentSeq);
    const answer: DedupeKeyResult = {
      intentSeq: entry.intentSeq,
      resultSeq: entry.resultSeq,
      ts: entry.ts,
    };
    if (found?.result !== undefined) answer.result = found.result;
    if (found?.error !== undefined) answer.error = found.error;
    return answer;
  }

  async #segmentResults(name: string): Promise<SegmentResults> {
    const cached = this.#cache.get(name);
    if (cached) {
      // Most recently used last, so eviction drops the least recently used.
      this.#cache.delete(name);
      this.#cache.set(name, cached);
      return cached;
    }
    const path = join(this.#layout.directory, name);
    const buffer = await readHistoryFile(this.#fs, path);
    if (buffer === undefined) {
      throw new AuditReadError(
        path,
        Object.assign(new Error(`ENOENT: ${path} is gone`), { code: "ENOENT" }),
      );
    }
    const results: SegmentResults = new Map();
    const scan = scanChain(buffer, {
      hmacKey: this.#hmacKey,
      onRecord: (record) => {
        if (record.phase === "result") results.set(record.intentSeq!, intentResultOf(record));
      },
    });
    if (scan.break) {
      // The file verified at initialize(): it changed behind the trail's back.
      throw new AuditCorruptError({ file: path, ...scan.break });
    }
    this.#cache.set(name, results);
    if (this.#cache.size > SEGMENT_CACHE) this.#cache.delete(this.#cache.keys().next().value!);
    return results;
  }
}
