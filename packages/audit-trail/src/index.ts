export {
  AUDIT_PHASES,
  type AuditPhase,
  type AuditRecord,
  type DedupeKeyResult,
  type DeniedEntry,
  type DryRunEntry,
  type IntentEntry,
  type IntentResult,
  type PrunedSegment,
} from "./audit-record.js";
export { AuditTrail } from "./audit-trail.js";
export { CANONICAL_JSON_MAX_DEPTH, CanonicalJsonError, canonicalJson } from "./canonical-json.js";
export type { ChainBreakReport } from "./chain-breaks.js";
export type { ChainBreakReason } from "./chain-scanner.js";
export { describeArgumentError, describeCliFailure } from "./cli/cli-errors.js";
export { ProgressBar, type ProgressStream, progressBarFor } from "./cli/progress-bar.js";
export { type AuditRecordsRead, readAuditRecords } from "./cli/read-history.js";
export {
  AUDIT_CLI_OPTIONS,
  AUDIT_WRITE_COMMANDS,
  type CliIo as AuditCliIo,
  type CliValues as AuditCliValues,
  commandHelp as auditCommandHelp,
  type ExitCode as AuditCliExitCode,
  parseCliArguments as parseAuditCliArguments,
  runCli as runAuditCli,
  runCommand as runAuditCommand,
  USAGE as AUDIT_CLI_USAGE,
  type VerifyProblemReason as AuditVerifyProblemReason,
  type VerifyReport as AuditVerifyReport,
} from "./cli/run-cli.js";
export { jsonForTerminal } from "./cli/terminal-text.js";
export { AUDIT_APPEND_CHANNEL, type AuditAppendMessage } from "./diagnostics.js";
export {
  type CheckedAuditEntry,
  checkAuditEntry,
  redactAuditField,
  redactAuditText,
} from "./entry-fields.js";
export {
  AuditCorruptError,
  AuditFileInUseError,
  AuditInvalidEntryError,
  AuditNotReadyError,
  AuditReadError,
  type AuditTrailErrorCode,
  type AuditTrailState,
  AuditUnknownIntentError,
  AuditWriteError,
  type AuditWriteOperation,
} from "./errors.js";
export { AUDIT_TRAIL_DEFAULTS, type AuditRedactor, type AuditTrailOptions } from "./options.js";
export {
  type AuditPruneReport,
  type PruneAuditHistoryOptions,
  type PrunedFile,
  pruneAuditHistory,
} from "./prune.js";
export type { RecoveryReport } from "./recovery.js";
export {
  type AuditDamage,
  type AuditRepairReport,
  type QuarantinedFile,
  type RepairAuditHistoryOptions,
  repairAuditHistory,
} from "./repair.js";
export {
  type StartSigningOptions,
  type StartSigningReport,
  startSigning,
} from "./start-signing.js";
export {
  type ChainVerification,
  type SegmentVerification,
  type VerifyAuditFileOptions,
  verifyAuditFile,
} from "./verify-audit-file.js";
