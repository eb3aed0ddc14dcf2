import { join } from "node:path";
import type { Clock, FileSystem, Logger } from "@beauvoir/core";
import { inspectStore, ResilientJsonStore, type StoreInspection } from "@beauvoir/resilient-store";
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

/** What {@link readLastBootRecord} found. */
export interface LastBootReading {
  /** The record a store opened now would serve (the primary, else its `.bak`), or `null`. */
  record: LastBootRecord | null;
  /** Which file it came from. */
  source: StoreInspection["current"];
  /** Every file of the record's store, with its health (damaged files are never served). */
  inspection: StoreInspection;
}

/**
 * Reads `{dataDir}/last-boot.json` without changing anything (no lock, no
 * quarantine, never through a link), so it is safe while the instance runs:
 * what `beauvoir status` shows.
 * @param options - the data directory, and the filesystem to read through.
 * @returns the record (checksum verified), where it came from, and the files' health.
 * @example
 * ```ts
 * const { record } = await readLastBootRecord({ dataDir: "/var/lib/agent" });
 * console.log(record?.mode, record?.health.warnings);
 * ```
 */
export async function readLastBootRecord(options: {
  dataDir: string;
  fs?: FileSystem;
}): Promise<LastBootReading> {
  const inspection = await inspectStore({
    path: join(options.dataDir, LAST_BOOT_FILE),
    ...(options.fs ? { fs: options.fs } : {}),
  });
  const served =
    inspection.current === "primary"
      ? inspection.primary
      : inspection.current === "bak"
        ? inspection.bak
        : inspection.current === "tmp"
          ? newestUsable(inspection.tmps)
          : undefined;
  const state = served?.state as LastBootRecord | undefined;
  return {
    record: state && state.version === 1 ? state : null,
    source: inspection.current,
    inspection,
  };
}

function newestUsable(files: StoreInspection["tmps"]): StoreInspection["tmps"][number] | undefined {
  let newest: StoreInspection["tmps"][number] | undefined;
  for (const file of files) {
    if (file.state === undefined) continue;
    if (!newest || (file.writeEpoch ?? 0) > (newest.writeEpoch ?? 0)) newest = file;
  }
  return newest;
}
