import { nodeFileSystem, openPrivateFile } from "@beauvoir/core";
import { type ConnectionOptions, createStatementRunner } from "./connection-options.js";
import type { PoolLike } from "./queryable.js";
import { quoteSchemaName } from "./schema-name.js";
import type { StatementRunner } from "./statement-runner.js";

/** Options of {@link exportAuditHistory}. */
export interface ExportAuditHistoryOptions extends ConnectionOptions {
  /** The caller's pool. */
  pool: PoolLike;
  /** @default "beauvoir" */
  schema?: string | undefined;
  /** The file to write: created with mode 0600, never overwritten, never through a symbolic link. */
  path: string;
  /** Records fetched per query. @default 5_000 */
  pageSize?: number | undefined;
}

/** What {@link exportAuditHistory} wrote. */
export interface AuditExportReport {
  /** The file written. */
  path: string;
  /** Records written (sealed records only, seq 1 to `lastSeq`). */
  records: number;
  /** Bytes written. */
  bytes: number;
  /** Seq and hash of the last record; absent for an empty history. */
  lastSeq?: number;
  lastHash?: string;
}

/**
 * Writes the sealed audit history, in seq order, as the JSONL file
 * `@beauvoir/audit-trail` writes: `verifyAuditFile()`, `beauvoir-audit verify`
 * and `scripts/verify_audit.py` accept it unchanged. Records not sealed yet are
 * not included; the file is fsynced before the promise resolves.
 * @param options - pool, schema, path, page size.
 * @returns what was written.
 * @throws the `open` error when `path` exists (`EEXIST`), `SymlinkRefusedError` for a link.
 * @example
 * ```ts
 * await exportAuditHistory({ pool, schema: "beauvoir", path: "/tmp/audit.jsonl" });
 * // then: beauvoir-audit verify /tmp/audit.jsonl
 * ```
 */
export async function exportAuditHistory(
  options: ExportAuditHistoryOptions,
): Promise<AuditExportReport> {
  const schema = quoteSchemaName(options.schema ?? "beauvoir");
  const pageSize = options.pageSize ?? 5_000;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  }
  if (typeof options.path !== "string" || options.path.length === 0) {
    throw new TypeError("path must be a non-empty string");
  }
  const runner = createStatementRunner(options.pool, options);
  const file = await openPrivateFile(nodeFileSystem, options.path, "create");
  const report: AuditExportReport = { path: options.path, records: 0, bytes: 0 };
  try {
    for await (const page of sealedPages(runner, schema, pageSize)) {
      const buffer = Buffer.from(page.text, "utf8");
      let offset = 0;
      while (offset < buffer.length) {
        const { bytesWritten } = await file.write(buffer, offset, buffer.length - offset);
        offset += bytesWritten;
      }
      report.records += page.count;
      report.bytes += buffer.length;
      report.lastSeq = page.lastSeq;
      report.lastHash = page.lastHash;
    }
    await file.sync();
  } finally {
    await file.close();
  }
  return report;
}

/** @internal One page of sealed lines, newline-terminated. */
export interface SealedPage {
  text: string;
  count: number;
  lastSeq: number;
  lastHash: string;
}

/** @internal The sealed lines in seq order, a page at a time. */
export async function* sealedPages(
  runner: StatementRunner,
  schema: string,
  pageSize: number,
): AsyncGenerator<SealedPage> {
  let after = 0;
  for (;;) {
    const { rows } = await runner.run<{ seq: string; hash: string; line: string }>(
      "audit.export",
      // Ordered by the column, not by its text (the output column of the same name).
      `SELECT r.seq::text AS seq, r.hash, r.line FROM ${schema}.audit_records r
        WHERE r.seq > $1 ORDER BY r.seq LIMIT $2`,
      [after, pageSize],
    );
    const last = rows[rows.length - 1];
    if (last === undefined) return;
    after = Number(last.seq);
    yield {
      text: `${rows.map((row) => row.line).join("\n")}\n`,
      count: rows.length,
      lastSeq: after,
      lastHash: last.hash,
    };
    if (rows.length < pageSize) return;
  }
}
