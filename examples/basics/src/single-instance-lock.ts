// Keep a second copy of an agent from running against the same data, recover
// the lock a crashed run left behind, and scope a lock with `await using`.
//
// expect: first instance: acquired agent-instance
// expect: second instance refused: LOCK_HELD (held by this pid: true)
// expect: second instance, waiting up to 2 s: acquired after the first released
// expect: recovered stale locks: nightly-report
// expect: inside await using: lock file exists = true
// expect: after the block: lock file exists = false
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LockHeldError, LockManager } from "@beauvoir/locks";

const dataDir = await mkdtemp(join(tmpdir(), "beauvoir-locks-example-"));
const lockDir = join(dataDir, "locks");

try {
  // 1. The first instance takes the single-instance lock at start-up.
  const first = new LockManager({ lockDir });
  const instance = await first.acquire("agent-instance");
  console.log(`first instance: acquired ${instance.name}`);

  // 2. A second instance (here a second manager; in real life another
  //    process) is refused at once: the owner's pid is alive.
  const second = new LockManager({ lockDir });
  try {
    await second.acquire("agent-instance");
  } catch (error) {
    if (LockHeldError.isInstance(error)) {
      console.log(
        `second instance refused: ${error.code} (held by this pid: ${error.owner.pid === process.pid})`,
      );
    }
  }

  // 3. With waitMs it waits (backing off) until the first one lets go.
  setTimeout(() => void instance.release(), 100);
  const takenOver = await second.acquire("agent-instance", { waitMs: 2_000 });
  console.log("second instance, waiting up to 2 s: acquired after the first released");
  await takenOver.release();

  // 4. A run that crashed (SIGKILL, OOM) left its lock behind. Its pid is dead,
  //    so recovery removes it; pid 4194999 is above Linux's pid_max.
  await mkdir(lockDir, { recursive: true });
  await writeFile(
    join(lockDir, "nightly-report.lock"),
    JSON.stringify({
      id: "crashed-run",
      pid: 4_194_999,
      bootId: "x",
      createdAt: Date.now(),
      lockVersion: 1,
    }),
  );
  const { recovered } = await first.recoverStaleLocks();
  console.log(`recovered stale locks: ${recovered.join(", ")}`);

  // 5. `await using` releases the lock when the block ends, even on throw.
  {
    await using report = await first.acquire("nightly-report");
    console.log(
      `inside await using: lock file exists = ${existsSync(join(lockDir, `${report.name}.lock`))}`,
    );
  }
  console.log(
    `after the block: lock file exists = ${existsSync(join(lockDir, "nightly-report.lock"))}`,
  );
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
