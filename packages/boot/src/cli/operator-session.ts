import { AuditTrail, verifyAuditFile } from "@beauvoir/audit-trail";
import type { FileSystem } from "@beauvoir/core";
import { IdempotencyIndex } from "@beauvoir/idempotency";
import type { LockManager } from "@beauvoir/locks";
import { DurableStepExecutor } from "../step-executor.js";
import { CommandUsageError } from "./cli-io.js";
import type { DataDirectory } from "./data-directory.js";

/** What a command that records an operator's decision works with. */
export interface OperatorSession {
  audit: AuditTrail;
  index: IdempotencyIndex;
  executor: DurableStepExecutor;
}

/**
 * Opens the data directory's audit trail and idempotency index the way boot
 * does (the index's owner lock in the same lock directory), under the
 * instance lock the caller holds, runs `work` with an executor over them
 * (so a decision goes through the same code as `executor.resolveKey` /
 * `resetKey`), and closes everything.
 * @param hmacKey - the history's key; required when the history is signed
 *   (an unsigned record after signed ones would break it under the key).
 */
export async function withOperatorSession<T>(
  fs: FileSystem,
  layout: DataDirectory,
  locks: LockManager,
  hmacKey: string | undefined,
  work: (session: OperatorSession) => Promise<T>,
): Promise<T> {
  if (hmacKey === undefined) {
    const verification = await verifyAuditFile(layout.auditDir, { fs });
    if (verification.signedRecords > 0) {
      throw new CommandUsageError(
        "the audit history is signed: pass --hmac-key-env NAME with the environment variable holding its key",
      );
    }
  }
  const audit = new AuditTrail({
    path: layout.auditFile,
    fs,
    ...(hmacKey === undefined ? {} : { hmacKey }),
  });
  await audit.initialize();
  const index = new IdempotencyIndex({
    dir: layout.idempotencyDir,
    fs,
    locks,
    auditQuery: audit,
  });
  try {
    await index.initialize();
    const executor = new DurableStepExecutor({ auditTrail: audit, idempotencyIndex: index });
    return await work({ audit, index, executor });
  } finally {
    await index.close().catch(() => {});
    await audit.close();
  }
}
