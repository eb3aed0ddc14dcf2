// Boot Beauvoir on a data directory, run one step with a side effect through
// the durable executor, and run it again: the second call is recognised by its
// idempotency key and the side effect does not happen twice. A second boot on
// the same directory is refused while the first instance is alive.
//
// expect: booted in autonomous mode
// expect: first call: executed (comments posted: 1)
// expect: second call: deduplicated (comments posted: 1)
// expect: audit chain valid: true
// expect: second instance refused: BOOT_FAILED (LOCK_HELD)
// expect: shutdown: drained=true
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BootError, boot } from "@beauvoir/boot";

const dataDir = await mkdtemp(join(tmpdir(), "beauvoir-example-"));
let commentsPosted = 0;

// A stand-in for a GitHub call. A real one would send `idempotencyKey` as an
// Idempotency-Key header and stop when `signal` aborts.
async function postComment({
  signal,
  idempotencyKey,
}: {
  signal: AbortSignal;
  idempotencyKey: string;
}) {
  signal.throwIfAborted();
  commentsPosted++;
  return { id: 1001, key: idempotencyKey };
}

try {
  const app = await boot({ dataDir, log: { level: "warn" } });
  console.log(`booted in ${app.mode} mode in ${Math.round(app.health.bootTimeMs)} ms`);
  // In autonomous mode every service is there, and typed so.
  if (app.mode !== "autonomous") throw new Error(`not ready: ${app.health.warnings.join("; ")}`);

  const step = {
    action: "add_issue_comment",
    scope: "acme/widgets",
    resource: "issue-12",
    params: { body: "Thanks for the report!" },
    run: postComment,
  };
  const first = await app.executor.execute(step);
  console.log(`first call: ${first.status} (comments posted: ${commentsPosted})`);
  const second = await app.executor.execute(step);
  console.log(`second call: ${second.status} (comments posted: ${commentsPosted})`);

  const chain = await app.services.auditTrail.verifyChain();
  console.log(`audit chain valid: ${chain.valid}`);

  try {
    await boot({ dataDir });
  } catch (error) {
    if (BootError.isInstance(error)) {
      const cause = (error.cause as { code?: string } | undefined)?.code;
      console.log(`second instance refused: ${error.code} (${cause})`);
    }
  }

  const closed = await app.shutdown();
  console.log(`shutdown: drained=${closed.drained}`);
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
