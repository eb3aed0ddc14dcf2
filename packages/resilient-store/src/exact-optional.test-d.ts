// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import type {
  ResilientStoreConfig,
  ResilientStoreFactoryOptions,
  ResilientStoreOptions,
  StoreCallOptions,
  StoreInspectionOptions,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<ResilientStoreConfig<object>>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ResilientStoreFactoryOptions>>().toEqualTypeOf<never>();
expectTypeOf<
  OptionalKeysRejectingUndefined<ResilientStoreOptions<object>>
>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<StoreCallOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<StoreInspectionOptions>>().toEqualTypeOf<never>();
