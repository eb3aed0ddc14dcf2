import type { AuditTrail } from "./audit-trail.js";

/** @internal A request, made by {@link startSigning}, that a trail's `initialize()` record the switch to signing. */
export interface SigningSwitchRequest {
  /** Set by `initialize()` when it wrote the `signing_started` record. */
  started?: { seq: number; unsignedRecords: number };
}

/** @internal Trails whose `initialize()` accepts unsigned records no switch covers, and covers them. */
export const signingSwitches = new WeakMap<AuditTrail, SigningSwitchRequest>();
