import { type FailureClass, isFailureClass } from "./failure-class.js";

/**
 * @internal Classifies what a call threw with a caller's classifier, which
 * may itself be broken: one that throws or returns something that is not a
 * failure class is logged, and the failure counts as `transient`.
 */
export function classifyOutcome(
  error: unknown,
  classifier: (error: unknown) => FailureClass,
  warn: (message: string, data: Record<string, unknown>) => void,
): FailureClass {
  try {
    const failureClass = classifier(error);
    if (isFailureClass(failureClass)) return failureClass;
    warn("circuit breaker classify returned an unknown class; counted as transient", {
      failureClass,
    });
  } catch (classifyError) {
    warn("circuit breaker classify threw; counted as transient", { error: classifyError });
  }
  return "transient";
}
