// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import type {
  CircuitBreakerGroupOptions,
  CircuitBreakerOptions,
  CommonCircuitBreakerOptions,
  ExecuteOptions,
  GitHubFailureContext,
  LegacyCircuitBreakerOptions,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<CircuitBreakerGroupOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<CircuitBreakerOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<CommonCircuitBreakerOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ExecuteOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<LegacyCircuitBreakerOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<GitHubFailureContext>>().toEqualTypeOf<never>();
