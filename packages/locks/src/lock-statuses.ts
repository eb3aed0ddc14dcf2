import { type Clock, isErrnoError } from "@beauvoir/core";
import type { LockFiles } from "./lock-files.js";
import type { LockStatus } from "./options.js";
import type { LockJudgement, StaleLockJudge } from "./stale-lock-judge.js";

/** @internal What {@link listLockStatuses} reads with. */
export interface LockStatusSources {
  readonly files: LockFiles;
  readonly judge: StaleLockJudge;
  readonly clock: Clock;
  /** The id of this manager's acquisition of `name`, if it holds it. */
  readonly heldIdOf: (name: string) => string | undefined;
}

/**
 * @internal Every lock of the directory, judged by the rules of `acquire()`
 * and changed in no way: only reads (never through a link) and `stat`s.
 */
export async function listLockStatuses(sources: LockStatusSources): Promise<LockStatus[]> {
  const found: LockStatus[] = [];
  for (const entry of await sources.files.list()) {
    const name = sources.files.lockNameOf(entry);
    if (name === undefined) continue;
    const status = await statusOf(sources, name);
    if (status) found.push(status);
  }
  return found;
}

async function statusOf(sources: LockStatusSources, name: string): Promise<LockStatus | undefined> {
  const path = sources.files.pathOf(name);
  const base = { name, path, heldByThisManager: false };
  let judgement: LockJudgement;
  try {
    judgement = await sources.judge.judge(path);
  } catch (error) {
    return {
      ...base,
      owner: undefined,
      ageMs: Number.NaN,
      status: "unreadable",
      staleReason: undefined,
      problem: isErrnoError(error) ? error.code : "UNKNOWN",
    };
  }
  switch (judgement.kind) {
    case "missing":
      return undefined;
    case "live": {
      const { owner } = judgement;
      return {
        ...base,
        owner,
        ageMs: sources.clock.now() - (owner.renewedAt ?? owner.createdAt),
        status: "live",
        staleReason: undefined,
        heldByThisManager: sources.heldIdOf(name) === owner.id,
      };
    }
    case "young-unreadable":
      return {
        ...base,
        owner: undefined,
        ageMs: judgement.ageMs,
        status: "unreadable",
        staleReason: undefined,
      };
    case "stale":
      return {
        ...base,
        owner: judgement.owner,
        ageMs: judgement.ageMs,
        status: "stale",
        staleReason: judgement.reason,
        heldByThisManager:
          judgement.owner !== undefined && sources.heldIdOf(name) === judgement.owner.id,
      };
  }
}
