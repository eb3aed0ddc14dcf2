// What the executor does with GitHub's everyday failures, with no retry code
// in the step: a 502 on a naturally idempotent action is retried; a
// secondary rate limit is waited out as long as GitHub asked; a comment whose
// answer was lost is looked up by its reconcile hook instead of posted again;
// a 422 fails the step for good until an operator resets the key; a comment
// nothing can check stays in doubt until an operator says what happened.
//
// expect: add_labels after a 502: executed in 2 attempts
// expect: add_issue_comment after a secondary limit: executed in 2 attempts, waited at least 1000 ms: true
// expect: add_issue_comment after a reset: reconciled (comments posted: 1)
// expect: create_review rejected: HttpError, terminal: true
// expect: again: STEP_FAILED
// expect: after resetKey: executed
// expect: a comment nobody can check: STEP_IN_DOUBT
// expect: after resolveKey(done): reconciled, posted: 1
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boot } from "@beauvoir/boot";

/** What Octokit throws for a non-2xx answer (status, request, response headers). */
function httpError(status: number, message: string, headers: Record<string, string> = {}) {
  return Object.assign(new Error(message), {
    name: "HttpError",
    status,
    request: { method: "POST", url: "https://api.github.com/repos/acme/widgets/issues/12" },
    response: { status, headers, data: { message } },
  });
}

const dataDir = await mkdtemp(join(tmpdir(), "beauvoir-failures-"));
const comments: string[] = [];
try {
  const app = await boot({
    dataDir,
    log: { level: "silent" },
    retry: { baseDelayMs: 50 },
    // Did a comment whose answer was lost land? A real hook lists the issue's comments.
    reconcilers: {
      add_issue_comment: async ({ key, resource }) => {
        if (resource === "issue-13") throw new Error("GitHub is down: cannot list comments");
        return comments.some((comment) => comment.includes(key)) ? "done" : "not_done";
      },
    },
  });
  const { executor } = app;
  const target = { scope: "acme/widgets", resource: "issue-12" };

  let calls = 0;
  const labelled = await executor.execute({
    ...target,
    action: "add_labels",
    params: { labels: ["bug"] },
    run: async () => {
      if (++calls === 1) throw httpError(502, "Server Error");
      return [{ name: "bug" }];
    },
  });
  console.log(
    `add_labels after a 502: ${labelled.status} in ${"attempts" in labelled ? labelled.attempts : "?"} attempts`,
  );

  const tries: number[] = [];
  const thanked = await executor.execute({
    ...target,
    action: "add_issue_comment",
    params: { body: "Thanks!" },
    run: async ({ idempotencyKey }) => {
      tries.push(Date.now());
      if (tries.length === 1) {
        throw httpError(403, "You have exceeded a secondary rate limit.", { "retry-after": "1" });
      }
      comments.push(`Thanks! <!-- ${idempotencyKey} -->`);
      return { id: 1 };
    },
  });
  const waited = (tries[1] ?? 0) - (tries[0] ?? 0);
  console.log(
    `add_issue_comment after a secondary limit: ${thanked.status} in ${"attempts" in thanked ? thanked.attempts : "?"} attempts, waited at least 1000 ms: ${waited >= 1000}`,
  );

  const triaged = await executor.execute({
    ...target,
    action: "add_issue_comment",
    params: { body: "Triaged as bug." },
    run: async ({ idempotencyKey }) => {
      // Posted, but the connection broke before the answer came back.
      comments.push(`Triaged as bug. <!-- ${idempotencyKey} -->`);
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    },
  });
  console.log(
    `add_issue_comment after a reset: ${triaged.status} (comments posted: ${comments.filter((comment) => comment.startsWith("Triaged")).length})`,
  );

  const review = {
    ...target,
    action: "create_review",
    params: { event: "APPROVE" },
    run: () => Promise.reject(httpError(422, "Can not approve your own pull request")),
  };
  const rejected = await executor.execute(review).catch((error: unknown) => error);
  console.log(
    `create_review rejected: ${(rejected as Error).name}, terminal: ${executor.isTerminalFailure(rejected)}`,
  );
  const again = await executor.execute(review).catch((error: unknown) => error);
  console.log(`again: ${(again as { code?: string }).code}`);
  // The cause was fixed by hand: the operator clears the key on purpose (recorded in the audit trail).
  await executor.resetKey((again as { idempotencyKey: string }).idempotencyKey, {
    reason: "the reviewer was changed",
  });
  const reviewed = await executor.execute({ ...review, run: async () => ({ id: 7 }) });
  console.log(`after resetKey: ${reviewed.status}`);

  const lost = {
    ...target,
    resource: "issue-13",
    action: "add_issue_comment",
    params: { body: "Duplicate of #12." },
    run: async ({ idempotencyKey }: { idempotencyKey: string }) => {
      comments.push(`Duplicate of #12. <!-- ${idempotencyKey} -->`);
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    },
  };
  await executor.execute(lost).catch(() => undefined);
  const doubt = await executor.execute(lost).catch((error: unknown) => error);
  console.log(`a comment nobody can check: ${(doubt as { code?: string }).code}`);
  // A human looked at issue 13 and saw the comment.
  await executor.resolveKey((doubt as { idempotencyKey: string }).idempotencyKey, "done", {
    reason: "seen on the issue",
  });
  const resolved = await executor.execute(lost);
  console.log(
    `after resolveKey(done): ${resolved.status}, posted: ${comments.filter((comment) => comment.startsWith("Duplicate")).length}`,
  );
  await app.shutdown();
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
