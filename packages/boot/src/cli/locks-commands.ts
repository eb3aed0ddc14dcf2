import type { LockStatus } from "@beauvoir/locks";
import { CommandUsageError, NotFoundError, RefusedError } from "./cli-io.js";
import type { CommandContext } from "./command-context.js";
import { INSTANCE_LOCK_NAME, lockManagerOf, withInstanceLock } from "./data-directory.js";
import { formatDuration, formatTime, printable, printJson, printLines, table } from "./output.js";

/** What `locks list` shows of a lock. */
export interface LockView {
  name: string;
  status: LockStatus["status"];
  staleReason?: string;
  pid?: number;
  /** Whether the holder's process is alive now (`undefined` without a readable record). */
  holderAlive?: boolean;
  createdAt?: string;
  renewedAt?: string;
  ageMs: number;
  problem?: string;
}

/** Every lock of the data directory, judged read-only (`listLocks()`: nothing taken or removed). */
export async function listLockViews(context: CommandContext): Promise<LockView[]> {
  const locks = await lockManagerOf(context.fs, context.layout).listLocks();
  return locks.map((lock) => ({
    name: lock.name,
    status: lock.status,
    ...(lock.staleReason === undefined ? {} : { staleReason: lock.staleReason }),
    ...(lock.owner
      ? {
          pid: lock.owner.pid,
          holderAlive: isAlive(lock.owner.pid),
          createdAt: formatTime(lock.owner.createdAt),
          ...(lock.owner.renewedAt === undefined
            ? {}
            : { renewedAt: formatTime(lock.owner.renewedAt) }),
        }
      : {}),
    ageMs: lock.ageMs,
    ...(lock.problem === undefined ? {} : { problem: lock.problem }),
  }));
}

/** `process.kill(pid, 0)`: alive unless the process does not exist. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code !== "ESRCH";
  }
}

/** `locks list`. */
export async function locksList(context: CommandContext): Promise<0> {
  const views = await listLockViews(context);
  if (context.values.json) {
    printJson(context.io, views);
    return 0;
  }
  if (views.length === 0) {
    printLines(context.io, ["no locks"]);
    return 0;
  }
  printLines(
    context.io,
    table([
      ["NAME", "STATUS", "PID", "HOLDER", "AGE"],
      ...views.map((view) => [
        printable(view.name),
        `${view.status}${view.staleReason ? ` (${view.staleReason})` : ""}${view.problem ? ` (${printable(view.problem)})` : ""}`,
        view.pid === undefined ? "-" : String(view.pid),
        view.holderAlive === undefined ? "-" : view.holderAlive ? "alive" : "dead",
        formatDuration(view.ageMs),
      ]),
    ]),
  );
  return 0;
}

/** `locks break <name> --if-dead`: removes a lock only if its holder is dead (or it is stale otherwise). */
export async function locksBreak(context: CommandContext): Promise<0> {
  const [name] = context.args;
  if (!context.values["if-dead"]) {
    throw new CommandUsageError(
      "locks break needs --if-dead: only a lock whose holder is dead (or that is stale) is ever broken",
    );
  }
  const breakIt = async () => {
    try {
      return await lockManagerOf(context.fs, context.layout).breakLock(name!);
    } catch (error) {
      const code = (error as { code?: unknown })?.code;
      if (code === "LOCK_HELD") {
        const pid = (error as { owner?: { pid?: number } }).owner?.pid;
        throw new RefusedError(
          `${printable(name)} is held by a live process${pid === undefined ? "" : ` (pid ${pid})`}: not broken`,
        );
      }
      if (code === "LOCK_CORRUPT") {
        throw new RefusedError(
          `${printable(name)} is unreadable but young (a writer may be finishing it): not broken yet, try again later`,
        );
      }
      throw error;
    }
  };
  // The instance lock is broken on its own terms; any other, only while no instance runs.
  const result =
    name === INSTANCE_LOCK_NAME
      ? await breakIt()
      : await withInstanceLock(context.fs, context.layout, breakIt);
  if (result.outcome === "missing") throw new NotFoundError(`no lock ${printable(name)}`);
  if (context.values.json) {
    printJson(context.io, { name, ...result });
    return 0;
  }
  if (result.outcome === "changed") {
    throw new RefusedError(`${printable(name)} kept changing while it was judged: not broken`);
  }
  const pid = result.owner ? ` (pid ${result.owner.pid})` : "";
  printLines(context.io, [`broken: ${printable(name)}${pid}, ${result.reason}`]);
  return 0;
}
