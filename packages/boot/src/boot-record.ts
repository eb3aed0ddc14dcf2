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

/**
 * Logs what step 5 did, one `info` line per key: promoted (completed
 * without running again), re-run (may run again), closed (an open intent
 * closed as abandoned).
 * @param logger - boot's (redacting) logger.
 * @param report - the reconciliation report.
 * @param openIntents - the audit trail's open intents before step 5 (for the keys of closed ones).
 */
export function logReconciliation(
  logger: Logger,
  report: ReconcileReport,
  openIntents: ReadonlyArray<AuditPendingIntent>,
): void {
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
