// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.
import { expectTypeOf } from "vitest";
import type {
  BeauvoirErrorOptions,
  CrashExplorationLimits,
  CrashExplorationOptions,
  CrashFileSystemFactoryOptions,
  CrashImageLimits,
  CrashImageOptions,
  CrashStateFileSystemOptions,
  DelayOptions,
  DurationOptionRules,
  FaultyFileSystemOptions,
  OptionalKeysRejectingUndefined,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<BeauvoirErrorOptions>>().toEqualTypeOf<never>();
expectTypeOf<
  OptionalKeysRejectingUndefined<CrashExplorationOptions<unknown>>
>().toEqualTypeOf<never>();
expectTypeOf<
  OptionalKeysRejectingUndefined<CrashFileSystemFactoryOptions>
>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<CrashImageOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<CrashStateFileSystemOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<DelayOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<FaultyFileSystemOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<CrashExplorationLimits>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<CrashImageLimits>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<DurationOptionRules>>().toEqualTypeOf<never>();
