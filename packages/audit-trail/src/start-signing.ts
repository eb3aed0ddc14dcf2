import type { FileSystem, Logger } from "@beauvoir/core";
import { AuditTrail } from "./audit-trail.js";
import { signingSwitches } from "./signing-switch.js";

/** Options of {@link startSigning}. */
export interface StartSigningOptions {
  /** The history's current file, e.g. `/var/lib/agent/audit/audit.jsonl`. */
  path: string;
  /** The key every record is signed with from now on (a string is used as UTF-8). */
  hmacKey: string | Uint8Array;
  /** @default nodeFileSystem */
  fs?: FileSystem | undefined;
  /** @default silentLogger */
  logger?: Logger | undefined;
}

/** What {@link startSigning} did. */
export interface StartSigningReport {
  /** False when every record was signed already (or there were none): nothing was written. */
  started: boolean;
  /** Seq of the `signing_started` record written. */
  signedFromSeq?: number;
  /** Unsigned records the switch covers. */
  unsignedRecords: number;
}

/**
 * Records, once, that a history written without a key is signed from now on:
 * verifies the whole history (hash chain intact, every signed record valid
 * under the key), then appends a signed `signing_started` record whose
 * `signedFromSeq` is its own seq. Under the key, the unsigned records before
 * it are accepted from then on (the chain up to this signed record vouches
 * for them); every record after it must be signed.
 *
 * Run it when you first configure a key on an existing history (the
 * `beauvoir-audit start-signing` command), after checking the history is the
 * one you expect: an `AuditTrail` with a key refuses an unsigned history with
 * no switch, because a history rewritten without the key looks exactly like
 * that. It takes the file like a writer does (refused while a trail of this
 * process has it open); do not run it while another process writes the file.
 * @param options - the file and the key.
 * @returns whether a switch was written, at which seq, covering how many records.
 * @throws {@link AuditCorruptError} when the history is damaged or a signed record fails under the key.
 * @throws {@link AuditFileInUseError}, {@link AuditReadError}, {@link AuditWriteError}, `FailStoppedError` as for `AuditTrail`.
 * @example
 * ```ts
 * await startSigning({ path: "/var/lib/agent/audit/audit.jsonl", hmacKey: process.env.AUDIT_KEY! });
 * ```
 */
export async function startSigning(options: StartSigningOptions): Promise<StartSigningReport> {
  if (options?.hmacKey === undefined) throw new TypeError("hmacKey is required");
  const trail = new AuditTrail({
    path: options.path,
    hmacKey: options.hmacKey,
    maxSizeBytes: Number.POSITIVE_INFINITY,
    ...(options.fs ? { fs: options.fs } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const request = {} as { started?: { seq: number; unsignedRecords: number } };
  signingSwitches.set(trail, request);
  try {
    await trail.initialize();
  } finally {
    await trail.close();
  }
  if (!request.started) return { started: false, unsignedRecords: 0 };
  return {
    started: true,
    signedFromSeq: request.started.seq,
    unsignedRecords: request.started.unsignedRecords,
  };
}
