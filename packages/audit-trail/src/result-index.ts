import { join } from "node:path";
import type { FileSystem } from "@beauvoir/core";
import type { AuditRecord, DedupeKeyResult, IntentResult } from "./audit-record.js";
import { scanChain } from "./chain-scanner.js";
import { AuditCorruptError, AuditReadError } from "./errors.js";
import { readHistoryFile } from "./history-file-reader.js";
import type { HistoryLayout } from "./segments.js";

/** @internal A result record as the index keeps it. */
export interface StoredResult {
  resultSeq: number;
  ts: string;
  error?: string;
  result?: unknown;
}

/** The results of one rotated file by intent seq, read when a query reaches back before the current file. */
type SegmentResults = Map<number, StoredResult>;

const SEGMENT_CACHE = 3;

/** @internal What the index keeps of a `result` record. */
export function storedResultOf(
  record: Pick<AuditRecord, "seq" | "ts" | "error" | "result">,
): StoredResult {
  const stored: StoredResult = { resultSeq: record.seq, ts: record.ts };
  if (record.error !== undefined) stored.error = record.error;
  if (record.result !== undefined) stored.result = record.result;
  return stored;
}

/**
 * "Did it happen?" for the whole history: the results of the current file
 * (by intent seq, in memory), the intent seq of the latest result of every
 * dedupeKey (over every file, built while `initialize()` verifies them), and,
 * for intents in rotated files, those files' results, read on demand and
 * cached (the 3 most recently used).
 */
export class ResultIndex {
  readonly #fs: FileSystem;
  readonly #layout: HistoryLayout;
  readonly #hmacKey: Uint8Array | undefined;
  #current: Map<number, StoredResult>;
  /** dedupeKey → seq of the intent of its latest result (a number: one entry per key of the whole history). */
  readonly #byDedupeKey: Map<string, number>;
  /** Rotated files oldest first, with the seq of their first record. */
  readonly #segments: { name: string; firstSeq: number }[];
  #currentFirstSeq: number;
  readonly #cache = new Map<string, SegmentResults>();

  constructor(init: {
    fs: FileSystem;
    layout: HistoryLayout;
    hmacKey: Uint8Array | undefined;
    current: Map<number, StoredResult>;
    byDedupeKey: Map<string, number>;
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
    this.#current.set(intentSeq, storedResultOf(record));
    if (dedupeKey !== undefined) this.#byDedupeKey.set(dedupeKey, intentSeq);
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
    const stored = await this.#find(intentSeq);
    if (!stored) return null;
    const answer: IntentResult = { hasResult: true };
    if (stored.error !== undefined) answer.error = stored.error;
    if (stored.result !== undefined) answer.result = stored.result;
    return answer;
  }

  /** The latest result for a (stored, redacted) dedupeKey, or `null`. */
  async byDedupeKey(dedupeKey: string): Promise<DedupeKeyResult | null> {
    const intentSeq = this.#byDedupeKey.get(dedupeKey);
    if (intentSeq === undefined) return null;
    const stored = await this.#find(intentSeq);
    if (!stored) return null;
    const answer: DedupeKeyResult = { intentSeq, resultSeq: stored.resultSeq, ts: stored.ts };
    if (stored.result !== undefined) answer.result = stored.result;
    if (stored.error !== undefined) answer.error = stored.error;
    return answer;
  }

  async #find(intentSeq: number): Promise<StoredResult | undefined> {
    const found = this.#current.get(intentSeq);
    if (found) return found;
    if (!(Number.isSafeInteger(intentSeq) && intentSeq >= 1 && intentSeq < this.#currentFirstSeq)) {
      return undefined;
    }
    // Newest first: the first file that starts at or before the seq holds it
    // (a result is always in its intent's file: rotation waits for open intents).
    for (let index = this.#segments.length - 1; index >= 0; index--) {
      const segment = this.#segments[index]!;
      if (segment.firstSeq <= intentSeq)
        return (await this.#segmentResults(segment.name)).get(intentSeq);
    }
    return undefined;
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
        if (record.phase === "result") results.set(record.intentSeq!, storedResultOf(record));
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
