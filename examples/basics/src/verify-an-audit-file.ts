// An agent writes down what it is about to do (intent) and what happened
// (result) in a hash-chained file, with a secret among the parameters. Then
// someone edits one byte of the file, and verification points at the record;
// then a crash leaves half a line, and the next start cuts it.
//
// expect: wrote 3 records, chain valid: true
// expect: the token is in the file: false
// expect: after an edit: valid false, broken at seq 2 (hash_mismatch)
// expect: after a torn write: 1 record(s) lost, chain valid: true
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditTrail, verifyAuditFile } from "@beauvoir/audit-trail";

const directory = await mkdtemp(join(tmpdir(), "beauvoir-example-"));
const path = join(directory, "audit.jsonl");
// In production the key comes from a secret store; it signs every record.
const hmacKey = "example key, not a secret";
const token = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";

try {
  const audit = new AuditTrail({ path, hmacKey });
  await audit.initialize();

  // Before the side effect: the intent is fsynced when this resolves.
  const intent = await audit.recordIntent({
    action: "add_issue_comment",
    target: "acme/app#12",
    params: { body: "Can you add steps to reproduce?", auth: `token ${token}` },
  });
  // ... here the agent would call GitHub ...
  await audit.recordResult(intent, { commentId: 991 });
  await audit.recordDenied({
    action: "delete_repo",
    target: "acme/app",
    params: {},
    reason: "not allowed",
  });

  const verification = await audit.verifyChain();
  console.log(`wrote ${verification.records} records, chain valid: ${verification.valid}`);
  await audit.close();

  // The redactor ran before anything reached the disk.
  const original = await readFile(path, "utf8");
  console.log(`the token is in the file: ${original.includes(token)}`);

  // Someone changes the recorded comment id: 991 becomes 992.
  await writeFile(path, original.replace('"commentId":991', '"commentId":992'));
  const tampered = await verifyAuditFile(directory, { hmacKey });
  console.log(
    `after an edit: valid ${tampered.valid}, broken at seq ${tampered.brokenAt} (${tampered.reason})`,
  );

  // Put the file back, then simulate a crash in the middle of a write.
  await writeFile(path, original);
  await appendFile(path, '{"action":"add_labels","dedupe');
  const restarted = new AuditTrail({ path, hmacKey });
  const recovery = await restarted.initialize();
  const afterRecovery = await restarted.verifyChain();
  console.log(
    `after a torn write: ${recovery.recordsLost} record(s) lost, chain valid: ${afterRecovery.valid}`,
  );
  await restarted.close();
} finally {
  await rm(directory, { recursive: true, force: true });
}
