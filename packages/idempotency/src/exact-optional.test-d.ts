// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import type {
  IdempotencyIndexOptions,
  MarkPendingOptions,
  RepairIndexOptions,
  Settlement,
  VerifyIndexOptions,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<IdempotencyIndexOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<MarkPendingOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<RepairIndexOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<VerifyIndexOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<Settlement>>().toEqualTypeOf<never>();
