import { classifyAttemptFailure, type FailureKind } from "@beauvoir/boot";
import { classifyFailure, type FailureClass } from "@beauvoir/breaker";

/**
 * Octokit turns a network error (connection refused, reset, DNS) into a
 * `RequestError` with status 500 and no response; judged by its status it
 * would look like GitHub's own 500. These rules judge it by its cause.
 */
export function isNetworkRequestError(error: unknown): error is Error & { cause: unknown } {
  if (!(error instanceof Error) || error.name !== "HttpError") return false;
  const fields = error as Error & { status?: unknown; response?: unknown };
  return fields.status === 500 && fields.response === undefined && error.cause !== undefined;
}

/** What the plugin tells the executor about Octokit's failures. */
export class OctokitFailureRules {
  readonly #kinds = new WeakMap<object, FailureKind>();

  /**
   * Judges a failed request where its body can still be read: a network
   * error by its cause (remembered for {@link OctokitFailureRules.failureKind}),
   * anything else by the executor's own rules.
   * @returns the failure's kind.
   */
  async judge(error: unknown): Promise<FailureKind> {
    if (isNetworkRequestError(error)) {
      const kind = (await classifyAttemptFailure(error.cause)).kind;
      this.#kinds.set(error, kind);
      return kind;
    }
    return (await classifyAttemptFailure(error)).kind;
  }

  /** The step's `failureKind`: what {@link OctokitFailureRules.judge} found, else the defaults. */
  readonly failureKind = (error: unknown): FailureKind | undefined =>
    typeof error === "object" && error !== null ? this.#kinds.get(error) : undefined;

  /** The step's `classify`: a network error counts as what its cause is (`external`). */
  readonly classify = (error: unknown): FailureClass =>
    isNetworkRequestError(error) ? classifyFailure(error.cause) : classifyFailure(error);
}
