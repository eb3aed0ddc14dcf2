// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import type {
  BeauvoirPluginOptions,
  BeauvoirReconcilersOptions,
  BeauvoirRequestOptions,
  EndpointOptions,
  RouteSettings,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<BeauvoirPluginOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<BeauvoirReconcilersOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<BeauvoirRequestOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<EndpointOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<RouteSettings>>().toEqualTypeOf<never>();
