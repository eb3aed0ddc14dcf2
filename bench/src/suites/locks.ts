import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LockManager } from "@beauvoir/locks";
import lockfile from "proper-lockfile";
import { type BenchRow, compare } from "../harness.js";

// Disk-bound operations are noisy on a shared machine: more, longer rounds.
const ROUNDS = 9;
const ROUND_MS = 400;

/**
 * One uncontended `acquire()` + `release()` of a named lock, against
 * proper-lockfile's `lock()` + `unlock()`, in the same temporary directory.
 *
 * The two do different amounts of work, and the rows say so. Ours, with its
 * defaults: exclusive create of a temporary file, write of the owner record,
 * fsync of it, `link` to `{name}.lock` (atomic appearance), unlink of the
 * temporary name, fsync of the directory; on release a read to check the
 * owner id, then unlink. proper-lockfile: realpath, mkdir, stat (mtime), an
 * unref'd refresh timer; on unlock rmdir. It never fsyncs, so a second row
 * runs ours with the same (lack of) durability for a like-for-like figure.
 */
export default async function locksSuite(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), "beauvoir-bench-locks-"));
  const target = join(dir, "resource");
  await writeFile(target, "");
  const ours = new LockManager({ lockDir: join(dir, "ours") });
  const oursWithoutFsync = new LockManager({ lockDir: join(dir, "ours-no-fsync"), fsync: false });
  const peer = {
    label: "proper-lockfile lock+unlock",
    op: async () => {
      const unlock = await lockfile.lock(target);
      await unlock();
    },
  };

  try {
    const durable = await compare({
      suite: "locks",
      case: "acquire+release, uncontended (ours fsyncs file and directory)",
      ours: {
        label: "@beauvoir/locks",
        op: async () => {
          const lock = await ours.acquire("bench");
          await lock.release();
        },
      },
      peer,
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      target: { atLeast: 3.0 },
      note: "ours: 2 fsyncs per acquire (the plan's durability); peer: none",
    });
    const likeForLike = await compare({
      suite: "locks",
      case: "acquire+release, uncontended, neither fsyncs",
      ours: {
        label: "@beauvoir/locks (fsync: false)",
        op: async () => {
          const lock = await oursWithoutFsync.acquire("bench");
          await lock.release();
        },
      },
      peer,
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      target: { atLeast: 3.0 },
    });
    return [durable, likeForLike];
  } finally {
    await ours.releaseAll();
    await oursWithoutFsync.releaseAll();
    await rm(dir, { recursive: true, force: true });
  }
}
