// Compiled by tsconfig.exact-optional.json, with exactOptionalPropertyTypes:
// every optional option accepts `undefined`, as code under that flag (and
// `process.env.X`) passes it. Without the flag the checks hold trivially.

import type { OptionalKeysRejectingUndefined } from "@beauvoir/core";
import { expectTypeOf } from "vitest";
import type { BeauvoirCliIo, OutputStream } from "./cli/cli-io.js";
import {
  type BootConfig,
  boot,
  type ParamConstraint,
  type ReconcilePassOptions,
  type RetryOptions,
  type ShutdownOptions,
  type StepExecutorOptions,
  type StepIdentity,
  type StepRequest,
  type ToolPolicy,
  type WorkflowEngineOptions,
  type WorkflowStepDefinition,
} from "./index.js";

expectTypeOf<OptionalKeysRejectingUndefined<BeauvoirCliIo>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<OutputStream>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<BootConfig>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ReconcilePassOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<RetryOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ShutdownOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<StepExecutorOptions>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<StepRequest<unknown>>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<WorkflowEngineOptions>>().toEqualTypeOf<never>();
expectTypeOf<
  OptionalKeysRejectingUndefined<WorkflowStepDefinition<unknown>>
>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ToolPolicy>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<ParamConstraint>>().toEqualTypeOf<never>();
expectTypeOf<OptionalKeysRejectingUndefined<StepIdentity>>().toEqualTypeOf<never>();

// Config built from the environment: unset variables are undefined.
boot({
  dataDir: "/var/lib/bot",
  hmacKey: process.env.AUDIT_KEY,
  maxWaitMs: undefined,
  retry: { maxAttempts: undefined },
});

// A backend chosen from the environment: none means the data directory.
declare const sharedBackend: BootConfig["backend"];
boot({
  backend: process.env.DATABASE_URL === undefined ? undefined : sharedBackend,
  dataDir: process.env.DATA_DIR,
});
