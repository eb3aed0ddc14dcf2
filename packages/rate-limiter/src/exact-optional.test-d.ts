// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import {
  type BackoffOptions,
  type ConsumeOptions,
  type GitHubQuotaOptions,
  RateLimiter,
  type RateLimiterOptions,
  type TokenBucketOptions,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<BackoffOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ConsumeOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<GitHubQuotaOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<RateLimiterOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<TokenBucketOptions>>().toEqualTypeOf<never>();

new RateLimiter({
  global: { capacity: 10, refillPerHour: undefined },
  backoff: { baseMs: undefined },
});
