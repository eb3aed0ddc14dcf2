import { join } from "node:path";
import type { Clock, FileSystem, Logger } from "@beauvoir/core";
import { ResilientJsonStore } from "@beauvoir/resilient-store";
import type { ReconcileReport } from "./boot-reconciliation.js";
import type { HealthReport } from "./health-report.js";
import type { RedactorPort } from "./ports.js";
import { redactingStore } from "./redacting-store.js";

/** The file, directly under `dataDir`, where boot leaves a record of itself. */
export const LAST_BOOT_FILE = "last-boot.json";

/**
 * What `{dataDir}/last-boot.json` holds (a `ResilientJsonStore` state:
 * checksummed, with a `.bak` one boot older), redacted.
 */
export interface LastBootRecord {
  version: 1;
  /** When the boot began, ISO-8601 UTC, from the injected clock. */
  bootedAt: string;
  /** The booting process. */
  pid: number;
  /** The mode boot decided (`health.mode`). */
  mode: HealthReport["mode"];
  /** The health report, `success: false` for an aborted boot. */
  health: HealthReport;
  /** What step 5 did; `null` when it did not run (an aborted boot, a missing index or audit trail). */
  reconciliation: ReconcileReport | null;
  /** Only on an aborted boot: the step that failed and why (redacted). */
  aborted?: { step: string; error: string };
}

/** Where {@link writeLastBootRecord} writes, and with what. */
export interface LastBootTarget {
  dataDir: string;
  fs: FileSystem;
  clock: Clock;
  logger: Logger;
  redactor: RedactorPort;
}

/**
 * Writes `{dataDir}/last-boot.json` (durable once it resolves), through the
 * redactor.
 * @param target - the data directory and the services to write with.
 * @param record - the record.
 * @returns `undefined`, or the error that kept the record from being written
 *   (a damaged or planted file: the store's typed errors).
 */
export async function writeLastBootRecord(
  target: LastBootTarget,
  record: LastBootRecord,
): Promise<unknown> {
  const store = new ResilientJsonStore<LastBootRecord>({
    path: join(target.dataDir, LAST_BOOT_FILE),
    fs: target.fs,
    clock: target.clock,
    logger: target.logger,
  });
  try {
    await redactingStore(store, target.redactor).set(record);
    return undefined;
  } catch (error) {
    return error;
  }
}
