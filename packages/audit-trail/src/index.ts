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
export type { ChainBreakReason } from "./chain-scanner.js";
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
  type PrunedFile,
  type PruneAuditHistoryOptions,
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
