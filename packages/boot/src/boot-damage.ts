import { dirname } from "node:path";
import type { BootPaths } from "./boot-config.js";
import { describeError } from "./errors.js";
import type { DamageReport } from "./health-report.js";

/** The error codes that mean "a file of this subsystem is damaged or refused". */
const DAMAGE_CODES = new Set([
  "AUDIT_CORRUPT",
  "AUDIT_READ",
  "AUDIT_FILE_IN_USE",
  "SYMLINK_REFUSED",
  "INDEX_CORRUPT",
  "INDEX_IO_FAILED",
  "STORE_READ_FAILED",
  "STORE_SCHEMA_TOO_NEW",
  "STORE_TOO_LARGE",
  "FAIL_STOPPED",
]);

interface ErrorFields {
  code?: unknown;
  file?: unknown;
  path?: unknown;
  line?: unknown;
  seq?: unknown;
  reason?: unknown;
}

/**
 * What a subsystem's error says about a damaged file, as a {@link DamageReport}
 * with the operator command that fixes it; `undefined` for an error that is
 * not about a file (a bad option, a held lock…).
 * @param subsystem - the boot step that failed, e.g. `auditTrail`.
 * @param error - what it threw.
 * @param outcome - what boot does about it.
 * @param paths - the data directory's layout, for the repair commands.
 * @param redact - applied to every text taken from the error.
 */
export function describeDamage(
  subsystem: string,
  error: unknown,
  outcome: DamageReport["outcome"],
  paths: BootPaths,
  redact: (text: string) => string,
): DamageReport | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const fields = error as ErrorFields;
  const code = typeof fields.code === "string" ? fields.code : undefined;
  if (code === undefined || !DAMAGE_CODES.has(code)) return undefined;
  const file =
    typeof fields.file === "string"
      ? fields.file
      : typeof fields.path === "string"
        ? fields.path
        : undefined;
  const report: DamageReport = {
    subsystem,
    code,
    detail: redact(describeError(error)),
    outcome,
  };
  if (file !== undefined) report.file = redact(file);
  if (typeof fields.line === "number") report.line = fields.line;
  if (typeof fields.seq === "number") report.seq = fields.seq;
  const repair = repairCommand(subsystem, code, fields.reason, paths);
  if (repair !== undefined) report.repair = repair;
  return report;
}

function repairCommand(
  subsystem: string,
  code: string,
  reason: unknown,
  paths: BootPaths,
): string | undefined {
  if (code === "FAIL_STOPPED") return "check the disk (dmesg), then restart the process";
  if (subsystem === "auditTrail") {
    const auditDir = dirname(paths.auditFile);
    if (reason === "hmac_missing") {
      return `check the history (beauvoir-audit verify ${auditDir}), then beauvoir-audit start-signing ${auditDir} --hmac-key-env <NAME>`;
    }
    if (code === "AUDIT_FILE_IN_USE")
      return "close the other AuditTrail of this process on that file";
    return `beauvoir-audit repair ${auditDir}`;
  }
  if (subsystem === "idempotencyIndex") {
    if (code === "SYMLINK_REFUSED") {
      return `move the symbolic link aside (it was not followed), then beauvoir-index verify ${paths.idempotencyDir}`;
    }
    if (code === "INDEX_IO_FAILED") {
      return `make the file readable and writable by this user, then beauvoir-index verify ${paths.idempotencyDir}`;
    }
    return `beauvoir-index repair ${paths.idempotencyDir}`;
  }
  return undefined;
}
