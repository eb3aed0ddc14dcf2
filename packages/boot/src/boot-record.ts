import type { Logger } from "@beauvoir/core";
import type { BootContext } from "./boot-config.js";
import type { ReconcileReport } from "./boot-reconciliation.js";
import { describeError } from "./errors.js";
import type { HealthReport } from "./health-report.js";
import { LAST_BOOT_FILE, type LastBootRecord, writeLastBootRecord } from "./last-boot.js";
import type { AuditPendingIntent, RedactorPort } from "./ports.js";
import { actionOfKey } from "./step-identity.js";

/** What one boot says about itself in `last-boot.json`. */
export interface BootRecordParts {
  bootedAt: string;
  health: HealthReport;
  reconciliation: ReconcileReport | undefined;
  aborted?: { step: string; error: string };
}

/**
 * Writes `{dataDir}/last-boot.json` for this boot.
 * @param context - the boot's filesystem, clock, logger and paths.
 * @param redactor - applied to the whole record.
 * @param parts - what to record.
 * @returns `undefined` once written, else a warning saying why it was not.
 */
export async function recordLastBoot(
  context: BootContext,
  redactor: RedactorPort,
  parts: BootRecordParts,
): Promise<string | undefined> {
  const record: LastBootRecord = {
    version: 1,
    bootedAt: parts.bootedAt,
    pid: process.pid,
    mode: parts.health.mode,
    health: parts.health,
    reconciliation: parts.reconciliation ?? null,
    ...(parts.aborted ? { aborted: parts.aborted } : {}),
  };
  const error = await writeLastBootRecord(
    {
      dataDir: context.paths.dataDir,
      fs: context.fs,
      clock: context.clock,
      logger: context.logger,
      redactor,
    },
    record,
  );
  if (error === undefined) return undefined;
  context.logger.warn(`boot: ${LAST_BOOT_FILE} could not be written`, { error });
  const text = redactor.redactAny(`${LAST_BOOT_FILE} not written: ${describeError(error)}`);
  return typeof text === "string" ? text : `${LAST_BOOT_FILE} not written`;
}

/** The index's own line for a pending key it settled from an audit result. */
const INDEX_PROMOTION =
  /^idempotency: pending entry promoted to (completed|failed) from the audit trail$/;

/**
 * Sees the keys the index settles from the audit trail's results while it
 * reconciles (it says so in one log line each), so that boot can log them
 * with the others, one line per key with its action.
 */
export class IndexPromotionWatcher {
  /** Keys settled from an audit result during {@link IndexPromotionWatcher.during}, in order. */
  readonly settled: Array<{ key: string; status: "completed" | "failed" }> = [];
  #watching = false;

  /**
   * @param base - the logger the index would get.
   * @returns a logger for the index: everything goes to `base`, except the
   *   promotion lines seen while watching, which boot logs itself.
   */
  logger(base: Logger): Logger {
    const info: Logger["info"] = (message, data) => {
      const key = (data as { key?: unknown } | undefined)?.key;
      const match =
        this.#watching && typeof key === "string" ? INDEX_PROMOTION.exec(message) : null;
      if (match)
        this.settled.push({ key: key as string, status: match[1] as "completed" | "failed" });
      else base.info(message, data);
    };
    return {
      debug: (message, data) => base.debug(message, data),
      info,
      warn: (message, data) => base.warn(message, data),
      error: (message, data) => base.error(message, data),
    };
  }

  /** Runs `reconcile` with the watch on. */
  async during<T>(reconcile: () => Promise<T>): Promise<T> {
    this.#watching = true;
    try {
      return await reconcile();
    } finally {
      this.#watching = false;
    }
  }
}

/**
 * Logs what step 5 did, one `info` line per key, with its action: promoted
 * (completed without running again, by a hook or from the audit trail's
 * result), settled as failed from the audit trail, re-run (may run again),
 * closed (an open intent closed as abandoned).
 * @param logger - boot's (redacting) logger.
 * @param report - the reconciliation report.
 * @param openIntents - the audit trail's open intents before step 5 (for the keys of closed ones).
 * @param fromAuditTrail - keys the index settled from the audit trail's results.
 */
export function logReconciliation(
  logger: Logger,
  report: ReconcileReport,
  openIntents: ReadonlyArray<AuditPendingIntent>,
  fromAuditTrail: ReadonlyArray<{ key: string; status: "completed" | "failed" }> = [],
): void {
  for (const { key, status } of fromAuditTrail) {
    logger.info(
      status === "completed"
        ? "boot: pending step promoted to completed from its audit result, not run again"
        : "boot: pending step marked failed from its audit result",
      { key, action: actionOfKey(key), decision: status === "completed" ? "promoted" : "failed" },
    );
  }
  for (const key of report.promoted) {
    logger.info("boot: pending step promoted to completed, not run again", {
      key,
      action: actionOfKey(key),
      decision: "promoted",
    });
  }
  for (const key of report.rerun) {
    logger.info("boot: pending step cleared to run again", {
      key,
      action: actionOfKey(key),
      decision: "rerun",
    });
  }
  const bySeq = new Map(openIntents.map((intent) => [intent.seq, intent]));
  for (const intentSeq of report.closedIntents) {
    const intent = bySeq.get(intentSeq);
    logger.info("boot: open intent closed as abandoned", {
      key: intent?.dedupeKey ?? null,
      action: intent?.action ?? null,
      intentSeq,
      decision: "closed",
    });
  }
}
