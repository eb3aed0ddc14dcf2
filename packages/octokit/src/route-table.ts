import type { CompensationStrategy } from "@beauvoir/boot";

/** How the built-in reconcile hook of a `check_then_retry` action looks for its effect. */
export type LookupName =
  | "issue_comment"
  | "review"
  | "review_comment"
  | "pull_request"
  | "merge"
  | "label_removed"
  | "release"
  | "check_run";

/** Where a write carries what its lookup recognises it by. */
export type MarkerPlace =
  /** `<!-- beauvoir:<key> -->` appended to the `body` text. */
  | "body"
  /** The key as the check run's `external_id`, when the caller gave none. */
  | "external_id";

/** One write route of the table. */
export interface WriteRoute {
  /** The action name: the idempotency key's prefix, the audit record's action, the breaker. */
  action: string;
  strategy: CompensationStrategy;
  /** Where the step's key is written into the request, for the lookup. */
  marker?: MarkerPlace;
  /** How a step whose outcome is unknown is looked up; `check_then_retry` routes have one. */
  lookup?: LookupName;
  /** A more precise action for some bodies (closing an issue is a `close_issue`). */
  actionFor?: (body: Readonly<Record<string, unknown>>) => string | undefined;
}

/**
 * The writes the plugin knows, by `METHOD /route`: the plan's compensation
 * table (its six actions keep their strategies) and the writes bots make
 * most. Every `check_then_retry` action has a lookup, so its reconcile hook
 * is built in.
 */
export const WRITE_ROUTES: Readonly<Record<string, Readonly<WriteRoute>>> = Object.freeze({
  "POST /repos/{owner}/{repo}/git/refs": { action: "create_branch", strategy: "safe_retry" },
  "POST /repos/{owner}/{repo}/pulls": {
    action: "create_pull_request",
    strategy: "check_then_retry",
    marker: "body",
    lookup: "pull_request",
  },
  "PATCH /repos/{owner}/{repo}/pulls/{pull_number}": {
    action: "update_pull_request",
    strategy: "safe_retry",
  },
  "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": {
    action: "add_issue_comment",
    strategy: "check_then_retry",
    marker: "body",
    lookup: "issue_comment",
  },
  "POST /repos/{owner}/{repo}/issues/{issue_number}/labels": {
    action: "add_labels",
    strategy: "safe_retry",
  },
  "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews": {
    action: "create_review",
    strategy: "check_then_retry",
    marker: "body",
    lookup: "review",
  },
  "PATCH /repos/{owner}/{repo}/issues/{issue_number}": {
    action: "update_issue",
    strategy: "safe_retry",
    actionFor: (body) => (body.state === "closed" ? "close_issue" : undefined),
  },
  "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge": {
    action: "merge_pull_request",
    strategy: "check_then_retry",
    lookup: "merge",
  },
  "POST /repos/{owner}/{repo}/check-runs": {
    action: "create_check_run",
    strategy: "check_then_retry",
    marker: "external_id",
    lookup: "check_run",
  },
  "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}": {
    action: "update_check_run",
    strategy: "safe_retry",
  },
  "POST /repos/{owner}/{repo}/issues/{issue_number}/assignees": {
    action: "add_assignees",
    strategy: "safe_retry",
  },
  "DELETE /repos/{owner}/{repo}/issues/{issue_number}/assignees": {
    action: "remove_assignees",
    strategy: "safe_retry",
  },
  "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}": {
    action: "remove_label",
    strategy: "check_then_retry",
    lookup: "label_removed",
  },
  "PUT /repos/{owner}/{repo}/issues/{issue_number}/labels": {
    action: "set_labels",
    strategy: "safe_retry",
  },
  "POST /repos/{owner}/{repo}/releases": {
    action: "create_release",
    strategy: "check_then_retry",
    lookup: "release",
  },
  "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments": {
    action: "add_review_comment",
    strategy: "check_then_retry",
    marker: "body",
    lookup: "review_comment",
  },
  "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": {
    action: "update_issue_comment",
    strategy: "safe_retry",
  },
  // Git objects are content-addressed: writing one twice is harmless.
  "POST /repos/{owner}/{repo}/git/blobs": { action: "create_blob", strategy: "safe_retry" },
  "POST /repos/{owner}/{repo}/git/trees": { action: "create_tree", strategy: "safe_retry" },
  "POST /repos/{owner}/{repo}/git/commits": { action: "create_commit", strategy: "safe_retry" },
  "PATCH /repos/{owner}/{repo}/git/refs/{ref}": { action: "update_ref", strategy: "safe_retry" },
});

/**
 * `POST` routes that change nothing on GitHub (rendering, token checks,
 * minting an installation token): sent as reads, never recorded, never
 * deduplicated (a deduplicated token request would answer with a redacted token).
 */
export const READ_ONLY_POST_ROUTES: ReadonlySet<string> = new Set([
  "POST /app/installations/{installation_id}/access_tokens",
  "POST /markdown",
  "POST /markdown/raw",
  "POST /applications/{client_id}/token",
  "POST /graphql",
]);
