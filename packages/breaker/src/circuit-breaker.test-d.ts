// Type-level checks, run by `tsc --noEmit` (pnpm typecheck): what execute()
// infers, and which option shapes the constructor accepts.
import { expectTypeOf } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";
import { CircuitBreakerGroup } from "./circuit-breaker-group.js";
import type { CircuitState } from "./circuit-state.js";
import { classifyFailure } from "./classify-failure.js";
import { classifyGitHubFailure } from "./classify-github-failure.js";
import type { FailureClass } from "./failure-class.js";

const breaker = new CircuitBreaker();

expectTypeOf(breaker.execute(async () => 42)).toEqualTypeOf<Promise<number>>();
expectTypeOf(breaker.execute(() => "sync")).toEqualTypeOf<Promise<string>>();
expectTypeOf(breaker.execute(async (signal) => signal.aborted)).toEqualTypeOf<Promise<boolean>>();
expectTypeOf(breaker.getState()).toEqualTypeOf<CircuitState>();
expectTypeOf(classifyFailure).returns.toEqualTypeOf<FailureClass>();

// Both configuration shapes, and the plan's injectable now().
new CircuitBreaker({ failureThreshold: 5, now: () => Date.now() });
new CircuitBreaker({ maxFailures: 3, resetTimeMs: 300_000, halfOpenRetries: 1 });

// @ts-expect-error recordFailure takes a failure class
breaker.recordFailure("fatal");
// @ts-expect-error unknown event
breaker.on("opened", () => {});
breaker.on("open", (event) => {
  expectTypeOf(event.retryAt).toEqualTypeOf<number | null>();
});
breaker.on("failure", (event) => {
  expectTypeOf(event.failureClass).toEqualTypeOf<FailureClass>();
});

// classifyGitHubFailure takes a status with headers and body, or any thrown value.
expectTypeOf(
  classifyGitHubFailure(403, { "retry-after": "1" }, undefined, {}),
).toEqualTypeOf<FailureClass>();
expectTypeOf(
  classifyGitHubFailure(new Error("x"), { resourceShouldExist: true }),
).toEqualTypeOf<FailureClass>();

const group = new CircuitBreakerGroup({ failureThreshold: 3, maxKeys: 50 });
expectTypeOf(group.get("add_labels")).toEqualTypeOf<CircuitBreaker>();
group.on("stateChange", (event) => {
  expectTypeOf(event.key).toEqualTypeOf<string>();
  expectTypeOf(event.to).toEqualTypeOf<CircuitState>();
});
// @ts-expect-error a group takes no initialState
new CircuitBreakerGroup({ initialState: breaker.toJSON() });
