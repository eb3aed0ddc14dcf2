// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import {
  type AuditCliIo,
  AuditTrail,
  type AuditTrailOptions,
  type DeniedEntry,
  type DryRunEntry,
  type IntentEntry,
  type PruneAuditHistoryOptions,
  type RepairAuditHistoryOptions,
  type StartSigningOptions,
  type VerifyAuditFileOptions,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<AuditCliIo>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<AuditTrailOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<DeniedEntry>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<DryRunEntry>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<IntentEntry>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<PruneAuditHistoryOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<RepairAuditHistoryOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<StartSigningOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<VerifyAuditFileOptions>>().toEqualTypeOf<never>();

// The example: an HMAC key from the environment, which may be unset.
declare const path: string;
const fromEnvironment: AuditTrailOptions = { path, hmacKey: process.env.AUDIT_KEY };
new AuditTrail(fromEnvironment);
new AuditTrail({ path, hmacKey: process.env.AUDIT_KEY });
