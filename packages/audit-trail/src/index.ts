export {
  AUDIT_PHASES,
  type AuditPhase,
  type AuditRecord,
  type DeniedEntry,
  type DryRunEntry,
  type IntentEntry,
  type IntentResult,
} from "./audit-record.js";
export { AuditTrail } from "./audit-trail.js";
export { CanonicalJsonError, canonicalJson } from "./canonical-json.js";
export type { ChainBreakReason } from "./chain-scanner.js";
export {
  AuditHmacMismatchError,
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
export type { RecoveryReport } from "./recovery.js";
export {
  type ChainVerification,
  type SegmentVerification,
  type VerifyAuditFileOptions,
  verifyAuditFile,
} from "./verify-audit-file.js";
