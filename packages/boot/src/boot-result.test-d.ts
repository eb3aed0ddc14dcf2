// Type-level checks (run by `tsc`, the package's typecheck): the services'
// types follow the mode, and a step's outcome says when its result is what
// run() returned.
import type { RateLimiter } from "@beauvoir/rate-limiter";
import type { BeauvoirLogger } from "@beauvoir/redactor";
import { expectTypeOf } from "vitest";
import type { BootResult } from "./boot-result.js";
import type { JsonSafe } from "./json-safe.js";
import type { StepOutcome } from "./step-outcome.js";

declare const app: BootResult;

if (app.mode === "autonomous") {
  expectTypeOf(app.services.rateLimiter).toEqualTypeOf<RateLimiter>();
  expectTypeOf(app.services.logger).toEqualTypeOf<BeauvoirLogger>();
  expectTypeOf(app.services.logger.child("github")).toEqualTypeOf<BeauvoirLogger>();
}
if (app.mode === "degraded") {
  expectTypeOf(app.services.rateLimiter).toEqualTypeOf<RateLimiter | undefined>();
  expectTypeOf(app.services.auditTrail).not.toBeUndefined();
}
if (app.mode === "dev") {
  expectTypeOf(app.services.logger).toEqualTypeOf<BeauvoirLogger>();
}

declare const outcome: StepOutcome<{ id: number; at: Date; labels: Set<string> }>;
if (outcome.status === "executed") {
  expectTypeOf(outcome.result).toEqualTypeOf<{ id: number; at: Date; labels: Set<string> }>();
}
if (outcome.status === "deduplicated") {
  expectTypeOf(outcome.result).toEqualTypeOf<{ id: number; at: string; labels: string[] }>();
}
if (outcome.status === "reconciled" || outcome.status === "dry_run") {
  expectTypeOf(outcome.result).toEqualTypeOf<undefined>();
}

expectTypeOf<JsonSafe<Map<string, bigint>>>().toEqualTypeOf<Array<[string, string]>>();
expectTypeOf<JsonSafe<undefined>>().toEqualTypeOf<undefined>();
expectTypeOf<JsonSafe<void>>().toEqualTypeOf<undefined>();
expectTypeOf<JsonSafe<{ a?: number; run(): void }>>().toEqualTypeOf<{ a?: number }>();
expectTypeOf<JsonSafe<Array<string | undefined>>>().toEqualTypeOf<Array<string | null>>();
