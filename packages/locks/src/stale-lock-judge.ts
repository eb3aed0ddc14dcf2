import type { Clock, Logger } from "@beauvoir/core";
import type { LockFiles } from "./lock-files.js";
import { decodeOwner, type LockOwner, readLockRecord } from "./lock-owner.js";
import { processStartedAt } from "./process-identity.js";

/**
 * Why a lock was judged stale: `expired` (older than `maxAgeMs` since its
 * last renewal, whatever its pid), `dead-pid` (its process is gone),
 * `pid-reused` (it carries this process's pid but predates this process),
 * `unreadable` (not a readable record, and its mtime is older than `corruptGraceMs`).
 */
export type LockStaleReason = "expired" | "dead-pid" | "pid-reused" | "unreadable";

/** @internal What one look at an existing lock file found. */
export type LockJudgement =
  | { readonly kind: "missing" }
  | { readonly kind: "live"; readonly owner: LockOwner; readonly bytes: Buffer }
  | { readonly kind: "young-unreadable"; readonly ageMs: number; readonly bytes: Buffer }
  | {
      readonly kind: "stale";
      readonly reason: LockStaleReason;
      readonly owner: LockOwner | undefined;
      readonly ageMs: number;
      readonly bytes: Buffer;
    };

/** @internal What judging, then removing a stale lock ended with. */
export type Inspection =
  | { readonly kind: "missing" }
  | { readonly kind: "changed" }
  | { readonly kind: "live"; readonly owner: LockOwner }
  | { readonly kind: "young-unreadable"; readonly ageMs: number }
  | {
      readonly kind: "removed";
      readonly reason: LockStaleReason;
      readonly owner: LockOwner | undefined;
    };

/** @internal The rules a {@link StaleLockJudge} applies. */
export interface StalenessRules {
  readonly maxAgeMs: number;
  readonly corruptGraceMs: number;
  readonly bootId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly isProcessAlive: (pid: number) => boolean;
  /** Ids of the locks held by any manager in this process. */
  readonly processHeldIds: ReadonlySet<string>;
}

/**
 * @internal Judges lock files: stale when older than `maxAgeMs` whatever the
 * pid (the backstop against pid reuse), else when the pid is dead (ESRCH),
 * or when it carries this process's own pid but predates this process. A
 * file that is not a readable record is stale once its mtime is older than
 * `corruptGraceMs`. Removal reads the file a second time and removes it only
 * if unchanged (the double read).
 */
export class StaleLockJudge {
  readonly #files: LockFiles;
  readonly #rules: StalenessRules;

  constructor(files: LockFiles, rules: StalenessRules) {
    this.#files = files;
    this.#rules = rules;
  }

  /**
   * Why a record is stale, or undefined when its holder may still be alive.
   * @param owner - the record.
   */
  staleReason(
    owner: LockOwner,
    renewedAt: number = owner.renewedAt ?? owner.createdAt,
  ): LockStaleReason | undefined {
    const { clock, maxAgeMs, processHeldIds, isProcessAlive } = this.#rules;
    const ageMs = clock.now() - renewedAt;
    if (ageMs > maxAgeMs) return "expired";
    if (owner.pid === process.pid) {
      if (processHeldIds.has(owner.id)) return undefined;
      // Our own pid on a lock that predates this process: a restarted
      // container (or a reboot) handed the crashed holder's pid to us.
      if (owner.createdAt < processStartedAt) return "pid-reused";
    }
    return isProcessAlive(owner.pid) ? undefined : "dead-pid";
  }

  /**
   * Reads and judges a lock file without changing anything.
   * @throws `SymlinkRefusedError` for a link; filesystem errors other than ENOENT.
   */
  async judge(path: string): Promise<LockJudgement> {
    const bytes = await this.#files.read(path);
    if (bytes === undefined) return { kind: "missing" };
    const now = this.#rules.clock.now();
    const record = readLockRecord(bytes);
    if (record) {
      const { owner } = record;
      let renewedAt = owner.renewedAt ?? owner.createdAt;
      if (record.renewal === "damaged") {
        // A torn or damaged renewal: the holder last wrote the file at its mtime.
        const mtimeMs = await this.#files.mtimeOf(path);
        if (mtimeMs === undefined) return { kind: "missing" };
        renewedAt = Math.max(renewedAt, mtimeMs);
      }
      const reason = this.staleReason(owner, renewedAt);
      const ageMs = now - renewedAt;
      return reason === undefined
        ? { kind: "live", owner, bytes }
        : { kind: "stale", reason, owner, ageMs, bytes };
    }
    const mtimeMs = await this.#files.mtimeOf(path);
    if (mtimeMs === undefined) return { kind: "missing" };
    const ageMs = now - mtimeMs;
    return ageMs <= this.#rules.corruptGraceMs
      ? { kind: "young-unreadable", ageMs, bytes }
      : { kind: "stale", reason: "unreadable", owner: undefined, ageMs, bytes };
  }

  /**
   * Judges a lock file and removes it when stale and still byte for byte
   * what was judged.
   * @param name - the lock's name, for the log.
   * @param path - its file.
   */
  async inspect(name: string, path: string): Promise<Inspection> {
    const judgement = await this.judge(path);
    switch (judgement.kind) {
      case "missing":
        return judgement;
      case "live": {
        const { owner } = judgement;
        if (owner.bootId !== this.#rules.bootId && owner.pid !== process.pid) {
          this.#rules.logger.debug(
            "Lock owner is from another boot but its pid is alive; kept as live",
            { name, owner, bootId: this.#rules.bootId },
          );
        }
        return { kind: "live", owner };
      }
      case "young-unreadable":
        return { kind: "young-unreadable", ageMs: judgement.ageMs };
    }
    const second = await this.#files.read(path);
    if (second === undefined) return { kind: "missing" };
    if (!second.equals(judgement.bytes)) return { kind: "changed" };
    if (!(await this.#files.removeIfPresent(path))) return { kind: "missing" };
    const { reason, owner } = judgement;
    this.#rules.logger.warn("Removed stale lock", {
      name,
      reason,
      owner: owner ?? null,
      sameBoot: owner ? owner.bootId === this.#rules.bootId : null,
    });
    return { kind: "removed", reason, owner };
  }

  /** {@link StaleLockJudge.inspect}, again while the file keeps changing under it, up to `rounds` times. */
  async inspectRepeatedly(name: string, path: string, rounds: number): Promise<Inspection> {
    let inspection = await this.inspect(name, path);
    for (let round = 1; round < rounds && inspection.kind === "changed"; round++) {
      inspection = await this.inspect(name, path);
    }
    return inspection;
  }

  /**
   * Removes a `{name}.lock.{id}.tmp` file left by a creator that crashed
   * before linking or cleaning up: when its record is stale (same rules as a
   * lock), or, unreadable or not, when its mtime is older than `corruptGraceMs`
   * (a live creator keeps one for milliseconds). Files of this process's
   * in-flight acquisitions are left alone.
   * @returns whether the file was removed.
   */
  async removeLeftoverTempFile(path: string): Promise<boolean> {
    const bytes = await this.#files.read(path);
    if (bytes === undefined) return false;
    const owner = decodeOwner(bytes);
    if (owner && this.#rules.processHeldIds.has(owner.id)) return false;
    let stale = owner !== undefined && this.staleReason(owner) !== undefined;
    if (!stale) {
      const mtimeMs = await this.#files.mtimeOf(path);
      if (mtimeMs === undefined) return false;
      stale = this.#rules.clock.now() - mtimeMs > this.#rules.corruptGraceMs;
    }
    return stale && (await this.#files.removeIfPresent(path));
  }
}
