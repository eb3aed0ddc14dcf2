// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import type {
  AcquireOptions,
  AuditCheckpointOptions,
  AuditSealerOptions,
  ClaimInput,
  ConnectionOptions,
  ExportAuditHistoryOptions,
  InstanceLeaseOptions,
  MigrateOptions,
  PostgresBackendOptions,
  PostgresIdempotencyOptions,
  PostgresLockManagerOptions,
  PostgresRateLimiterOptions,
  RetryOptions,
  SendOptions,
  SessionSettingsOptions,
  SettleInput,
  StoreSetOptions,
  TakeOverOptions,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<AcquireOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<AuditCheckpointOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<AuditSealerOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ConnectionOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ExportAuditHistoryOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<InstanceLeaseOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<MigrateOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<PostgresBackendOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<PostgresIdempotencyOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<PostgresLockManagerOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<PostgresRateLimiterOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<RetryOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<SendOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<SessionSettingsOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<StoreSetOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<TakeOverOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ClaimInput>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<SettleInput>>().toEqualTypeOf<never>();
