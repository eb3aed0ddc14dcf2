import {
  type Clock,
  type FileHandleLike,
  type FileSystem,
  isErrnoError,
  type Logger,
  openPrivateFile,
  SymlinkRefusedError,
  type TimerHandle,
} from "@beauvoir/core";
import { asLockError } from "./errors.js";
import { type LockFiles, writeFully } from "./lock-files.js";
import { asyncDisposeSymbol, type LockHandle } from "./lock-handle.js";
import { decodeOwner, encodeOwner, type LockOwner } from "./lock-owner.js";
import type { LockLostEvent } from "./options.js";

interface HeldLock {
  readonly name: string;
  readonly path: string;
  owner: LockOwner;
  /** Set once a release started; later calls share it. */
  releasing: Promise<boolean> | undefined;
  /** An in-flight renewal; a release waits for it so it never races a rewrite. */
  renewing: Promise<void> | undefined;
}

/** @internal What {@link HeldLocks} needs. */
export interface HeldLocksOptions {
  readonly files: LockFiles;
  readonly fs: FileSystem;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly renewIntervalMs: number;
  readonly onLockLost: ((event: LockLostEvent) => void) | undefined;
  /** Ids of the locks held by any manager in this process. */
  readonly processHeldIds: Set<string>;
}

/**
 * @internal The locks one manager holds: their handles, their release (which
 * never removes a file carrying another acquisition's id), and their renewal
 * (`renewedAt` rewritten in place every `renewIntervalMs`, so a live holder
 * never reaches the age backstop).
 */
export class HeldLocks {
  readonly #options: HeldLocksOptions;
  readonly #held = new Map<string, HeldLock>();
  #renewTimer: TimerHandle | undefined;

  constructor(options: HeldLocksOptions) {
    this.#options = options;
  }

  /** Names held now. */
  get names(): string[] {
    return [...this.#held.keys()];
  }

  /** The id of the acquisition holding `name`, if this manager holds it. */
  idOf(name: string): string | undefined {
    return this.#held.get(name)?.owner.id;
  }

  /** Records a lock just created and returns its handle. */
  add(name: string, path: string, owner: LockOwner): LockHandle {
    const held: HeldLock = { name, path, owner, releasing: undefined, renewing: undefined };
    this.#held.set(name, held);
    this.#armRenewal();
    const release = (): Promise<boolean> =>
      this.#held.get(held.name) === held ? this.#release(held) : Promise.resolve(false);
    return Object.freeze({
      name,
      id: owner.id,
      release,
      [asyncDisposeSymbol]: async (): Promise<void> => {
        await release();
      },
    });
  }

  /** Releases `name` if held. */
  release(name: string): Promise<boolean> {
    const held = this.#held.get(name);
    return held ? this.#release(held) : Promise.resolve(false);
  }

  /** Releases every lock; the results of each release, in no particular order. */
  releaseAll(): Promise<PromiseSettledResult<boolean>[]> {
    return Promise.allSettled([...this.#held.values()].map((held) => this.#release(held)));
  }

  #release(held: HeldLock): Promise<boolean> {
    if (held.releasing) return held.releasing.then(() => false);
    const releasing = this.#removeOwnLock(held).then(
      (removed) => {
        this.#forget(held);
        return removed;
      },
      (error: unknown) => {
        // Still ours as far as we know: let a later release try again.
        held.releasing = undefined;
        throw asLockError(held.name, held.path, error);
      },
    );
    held.releasing = releasing;
    return releasing;
  }

  async #removeOwnLock(held: HeldLock): Promise<boolean> {
    await held.renewing;
    let current: Buffer | undefined;
    try {
      current = await this.#options.files.read(held.path);
    } catch (error) {
      // A link where our lock was: not ours any more, and never followed.
      if (!SymlinkRefusedError.isInstance(error)) throw error;
      this.#reportLost(held, "taken-over");
      return false;
    }
    if (current === undefined) {
      this.#reportLost(held, "removed");
      return false;
    }
    if (decodeOwner(current)?.id !== held.owner.id) {
      this.#reportLost(held, "taken-over");
      return false;
    }
    if (!(await this.#options.files.removeIfPresent(held.path))) {
      this.#reportLost(held, "removed");
      return false;
    }
    return true;
  }

  /** Drops a lock from this manager's books; the id leaves the process registry only after the file is gone. */
  #forget(held: HeldLock): void {
    if (this.#held.get(held.name) === held) this.#held.delete(held.name);
    this.#options.processHeldIds.delete(held.owner.id);
    if (this.#held.size === 0 && this.#renewTimer) {
      this.#options.clock.clearTimeout(this.#renewTimer);
      this.#renewTimer = undefined;
    }
  }

  #reportLost(held: HeldLock, reason: LockLostEvent["reason"]): void {
    const event: LockLostEvent = { name: held.name, id: held.owner.id, reason };
    this.#options.logger.error("Lock held by this manager was lost", {
      ...event,
      lockDir: this.#options.files.lockDir,
    });
    try {
      this.#options.onLockLost?.(event);
    } catch (error) {
      this.#options.logger.warn("onLockLost listener threw", { error });
    }
  }

  #armRenewal(): void {
    const { clock, renewIntervalMs } = this.#options;
    if (this.#renewTimer || this.#held.size === 0 || !Number.isFinite(renewIntervalMs)) return;
    this.#renewTimer = clock.setTimeout(() => {
      this.#renewTimer = undefined;
      void this.#renewAll().finally(() => this.#armRenewal());
    }, renewIntervalMs);
    this.#renewTimer.unref?.();
  }

  async #renewAll(): Promise<void> {
    const renewals = [...this.#held.values()]
      .filter((held) => !held.releasing && !held.renewing)
      .map((held) => {
        const renewing = this.#renew(held)
          .catch((error: unknown) => {
            this.#options.logger.warn("Could not renew lock; will try again", {
              name: held.name,
              error,
            });
          })
          .finally(() => {
            held.renewing = undefined;
          });
        held.renewing = renewing;
        return renewing;
      });
    await Promise.all(renewals);
  }

  /**
   * Rewrites `renewedAt` in place, after checking (on the same open file,
   * never through a link) that it still carries our id.
   */
  async #renew(held: HeldLock): Promise<void> {
    let file: FileHandleLike;
    try {
      file = await openPrivateFile(this.#options.fs, held.path, "update");
    } catch (error) {
      const removed = isErrnoError(error, "ENOENT");
      if (!removed && !SymlinkRefusedError.isInstance(error)) throw error;
      this.#lose(held, removed ? "removed" : "taken-over");
      return;
    }
    try {
      if (decodeOwner(await file.readFile())?.id !== held.owner.id) {
        this.#lose(held, "taken-over");
        return;
      }
      const renewed: LockOwner = Object.freeze({
        ...held.owner,
        renewedAt: this.#options.clock.now(),
      });
      const bytes = encodeOwner(renewed);
      // In place, not by rename: a reader sees the old record, the new one, or
      // (mid-write) an unreadable file with a fresh mtime, which is never broken.
      await writeFully(file, bytes);
      await file.truncate(bytes.length);
      held.owner = renewed;
    } finally {
      await file.close();
    }
  }

  #lose(held: HeldLock, reason: LockLostEvent["reason"]): void {
    this.#forget(held);
    this.#reportLost(held, reason);
  }
}
