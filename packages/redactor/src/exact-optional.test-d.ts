// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import {
  createLogger,
  type FromPinoOptions,
  type LoggerOptions,
  type LoggerSinkOptions,
  SecretRedactor,
  type SecretRedactorOptions,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<FromPinoOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<LoggerOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<LoggerSinkOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<SecretRedactorOptions>>().toEqualTypeOf<never>();

createLogger(new SecretRedactor({ maxDepth: undefined }), {
  level: undefined,
  prefix: process.env.PREFIX,
});
