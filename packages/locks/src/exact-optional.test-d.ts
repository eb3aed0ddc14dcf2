// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import type { AcquireOptions, LockManagerOptions } from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<AcquireOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<LockManagerOptions>>().toEqualTypeOf<never>();
