import { randomUUID } from "node:crypto";
import { StaleFenceError, StoreConflictError } from "./errors.js";
import type { StatementRunner } from "./statement-runner.js";

/** A stored document and the write epoch it was read at. */
export interface StoredDocument<T> {
  value: T;
  /** Grows by one on every write; the next write must name it. */
  writeEpoch: number;
}

/** Per-call options of {@link PostgresJsonStore.set}. */
export interface StoreSetOptions {
  /**
   * The epoch the new value is based on: `0` for a document that must not exist
   * yet. @default the epoch this store object last read or wrote
   */
  expectedEpoch?: number | undefined;
  /**
   * A lock's fencing token: the write is refused with `FENCE_STALE` when a write
   * with a higher fence has already been made to this document.
   */
  fence?: number | undefined;
}

interface WriteRow {
  outcome: "written" | "existing";
  write_epoch: string;
  write_id: string;
  fence: string | null;
}

/**
 * A JSON document shared by every replica, written by compare-and-set on its
 * write epoch: a write based on an epoch that is no longer current is refused
 * with {@link StoreConflictError} (`STORE_CONFLICT`), so two replicas never
 * overwrite each other's state unseen. Stored as text, byte for byte.
 */
export class PostgresJsonStore<T extends object> {
  /** The document's name. */
  readonly name: string;
  readonly #runner: StatementRunner;
  readonly #schema: string;
  readonly #writerId: string | null;
  #epoch: number | undefined;

  /**
   * @internal Made by the backend (or its factory), which passes these in.
   * @param runner - how statements are sent.
   * @param schema - the quoted schema.
   * @param name - the document's name.
   * @param writerId - recorded as `updated_by`.
   */
  constructor(runner: StatementRunner, schema: string, name: string, writerId: string | null) {
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError("store name must be a non-empty string");
    }
    this.#runner = runner;
    this.#schema = schema;
    this.name = name;
    this.#writerId = writerId;
  }

  /**
   * @returns the document, or `null` when it was never written; remembers its epoch for the next `set`.
   */
  async get(): Promise<T | null> {
    return (await this.read())?.value ?? null;
  }

  /** @returns the document and its write epoch, or `null`; remembers the epoch. */
  async read(): Promise<StoredDocument<T> | null> {
    const { rows } = await this.#runner.run<{ value: string; write_epoch: string }>(
      "store.get",
      `SELECT value, write_epoch::text FROM ${this.#schema}.store_documents WHERE name = $1`,
      [this.name],
    );
    const row = rows[0];
    if (row === undefined) {
      this.#epoch = 0;
      return null;
    }
    this.#epoch = Number(row.write_epoch);
    return { value: JSON.parse(row.value) as T, writeEpoch: this.#epoch };
  }

  /**
   * Writes the document if its epoch is still the one the value is based on.
   * @param value - the new state (plain JSON data).
   * @param options - `expectedEpoch` (default: the last epoch read or written), `fence`.
   * @returns the new write epoch.
   * @throws {@link StoreConflictError} when another replica wrote first (nothing written).
   * @throws {@link StaleFenceError} when a write with a higher fence was made.
   * @throws TypeError for a value JSON cannot represent.
   * @example
   * ```ts
   * const state = (await store.get()) ?? { lastSeenId: 0 };
   * await store.set({ ...state, lastSeenId: 1234 });
   * ```
   */
  async set(value: T, options: StoreSetOptions = {}): Promise<number> {
    const expected = options.expectedEpoch ?? this.#epoch ?? 0;
    if (!Number.isSafeInteger(expected) || expected < 0) {
      throw new RangeError(`expectedEpoch must be a non-negative integer, got ${expected}`);
    }
    const fence = options.fence ?? null;
    if (fence !== null && (!Number.isSafeInteger(fence) || fence < 1)) {
      throw new RangeError(`fence must be a positive integer, got ${fence}`);
    }
    const text = serialize(value);
    const writeId = randomUUID();
    for (;;) {
      const { rows } = await this.#runner.run<WriteRow>(
        "store.set",
        expected === 0 ? this.#insertStatement() : this.#updateStatement(),
        [this.name, text, expected, writeId, fence, this.#writerId],
      );
      const row = rows[0];
      if (row !== undefined && (row.outcome === "written" || row.write_id === writeId)) {
        this.#epoch = Number(row.write_epoch);
        return this.#epoch;
      }
      const actual = row === undefined ? 0 : Number(row.write_epoch);
      if (row?.fence != null && fence !== null && Number(row.fence) > fence) {
        throw new StaleFenceError(`store:${this.name}`, fence, Number(row.fence));
      }
      // The snapshot still shows the expected epoch, yet nothing was written:
      // a concurrent write committed after the snapshot. A fresh statement tells.
      if (actual === expected) continue;
      throw new StoreConflictError(this.name, expected, actual);
    }
  }

  #insertStatement(): string {
    const s = this.#schema;
    return `WITH written AS (
        INSERT INTO ${s}.store_documents (name, value, write_epoch, write_id, fence, updated_at, updated_by)
        SELECT $1, $2, $3::bigint + 1, $4, $5, now(), $6
        ON CONFLICT (name) DO NOTHING
        RETURNING write_epoch, write_id, fence
      )
      SELECT 'written' AS outcome, write_epoch::text, write_id, fence::text FROM written
      UNION ALL
      SELECT 'existing', write_epoch::text, write_id, fence::text FROM ${s}.store_documents
       WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM written)`;
  }

  #updateStatement(): string {
    const s = this.#schema;
    return `WITH written AS (
        UPDATE ${s}.store_documents d
           SET value = $2, write_epoch = d.write_epoch + 1, write_id = $4,
               fence = GREATEST(d.fence, $5::bigint), updated_at = now(), updated_by = $6
         WHERE d.name = $1 AND d.write_epoch = $3::bigint
           AND ($5::bigint IS NULL OR d.fence IS NULL OR d.fence <= $5::bigint)
        RETURNING d.write_epoch, d.write_id, d.fence
      )
      SELECT 'written' AS outcome, write_epoch::text, write_id, fence::text FROM written
      UNION ALL
      SELECT 'existing', write_epoch::text, write_id, fence::text FROM ${s}.store_documents
       WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM written)`;
  }
}

/**
 * Makes the shared {@link PostgresJsonStore}s, one per name (the workflow
 * engine's `StoreFactoryPort`).
 */
export class PostgresStoreFactory {
  readonly #runner: StatementRunner;
  readonly #schema: string;
  readonly #writerId: string | null;

  /**
   * @internal Made by the backend (or its factory), which passes these in.
   * @param runner - how statements are sent.
   * @param schema - the quoted schema.
   * @param writerId - recorded as `updated_by`.
   */
  constructor(runner: StatementRunner, schema: string, writerId: string | null) {
    this.#runner = runner;
    this.#schema = schema;
    this.#writerId = writerId;
  }

  /**
   * @param name - the document's name.
   * @returns a store for it (each call a new object with its own remembered epoch).
   */
  create<T extends object>(name: string): PostgresJsonStore<T> {
    return new PostgresJsonStore<T>(this.#runner, this.#schema, name, this.#writerId);
  }
}

function serialize(value: unknown): string {
  if (typeof value !== "object" || value === null) {
    throw new TypeError("store value must be an object or an array");
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`store value cannot be written as JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (text === undefined) throw new TypeError("store value cannot be written as JSON");
  return text;
}
