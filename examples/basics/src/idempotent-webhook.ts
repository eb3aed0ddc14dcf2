// A webhook handler that must post exactly one comment per delivery, even when
// the sender redelivers and even when the process dies mid-way. The idempotency
// index claims each delivery's key on disk before the side effect runs, so a
// redelivery is recognised; a delivery interrupted by a "crash" is found again
// as pending on restart and handed to reconciliation.
//
// expect: delivery d-1: posted comment 1
// expect: redelivery d-1: skipped (completed)
// expect: delivery d-2: claimed, then the process "crashed"
// expect: after restart, pending: add_issue_comment (check_then_retry)
// expect: reconciled d-2: posted comment 2
// expect: comments posted: 2
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IdempotencyIndex } from "@beauvoir/idempotency";

const dir = await mkdtemp(join(tmpdir(), "beauvoir-idempotency-"));
let commentsPosted = 0;
let intentSeq = 0; // a real app takes this from its audit trail's recordIntent()

// The side effect: a stand-in for POST /repos/{owner}/{repo}/issues/{n}/comments.
async function postComment(body: string): Promise<{ id: number; length: number }> {
  commentsPosted++;
  return { id: commentsPosted, length: body.length };
}

async function handleDelivery(
  index: IdempotencyIndex,
  delivery: { id: string; issue: number; body: string },
) {
  const key = index.generateKey("add_issue_comment", "acme/widgets", `issue-${delivery.issue}`, {
    delivery: delivery.id,
    body: delivery.body,
  });
  // Claim the key durably before touching the outside world.
  const claim = await index.markPending(key, ++intentSeq);
  if (!claim.claimed) return `skipped (${claim.reason})`;
  try {
    const result = await postComment(delivery.body);
    await index.markCompleted(key, result);
    return `posted comment ${result.id}`;
  } catch (error) {
    await index.markFailed(key, error as Error); // terminal: never retried blindly
    throw error;
  }
}

// First process.
const first = new IdempotencyIndex({ dir });
await first.initialize();
console.log(
  `delivery d-1: ${await handleDelivery(first, { id: "d-1", issue: 12, body: "Thanks!" })}`,
);
console.log(
  `redelivery d-1: ${await handleDelivery(first, { id: "d-1", issue: 12, body: "Thanks!" })}`,
);
// d-2 is claimed, then the process dies before the comment is posted.
const key2 = first.generateKey("add_issue_comment", "acme/widgets", "issue-13", {
  delivery: "d-2",
  body: "On it",
});
await first.markPending(key2, ++intentSeq);
console.log('delivery d-2: claimed, then the process "crashed"');
await first.close(); // a real crash would leave the lock file; the next owner recovers it

// Second process: the pending entry is still there.
const second = new IdempotencyIndex({ dir });
await second.initialize();
for (const entry of await second.reconcilePending()) {
  console.log(`after restart, pending: ${entry.action} (${entry.strategy})`);
  // check_then_retry: ask GitHub whether the comment exists (here: it does not), then re-run.
  const alreadyPosted = false;
  if (alreadyPosted) {
    await second.markCompleted(entry.key);
    continue;
  }
  const claim = await second.markPending(entry.key, ++intentSeq);
  if (claim.claimed) {
    const result = await postComment("On it");
    await second.markCompleted(entry.key, result);
    console.log(`reconciled d-2: posted comment ${result.id}`);
  }
}
console.log(`comments posted: ${commentsPosted}`);
await second.close();
await rm(dir, { recursive: true, force: true });
