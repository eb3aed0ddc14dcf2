import {
  type DurablePoint,
  type ExecutorContext,
  redactedText,
  reportPoint,
} from "./executor-context.js";
import type { CompensationStrategy, IdempotencyClaim } from "./ports.js";
import { RECORDED_ERROR_CODES } from "./recorded-verdict.js";
import { reconciledMarker } from "./step-outcome.js";

/** What a {@link KeyLedger} writes about. */
export interface LedgerSubject {
  /** `""` without an index (dev mode) or for reads. */
  key: string;
  action: string;
  target: string;
  /** What the intent's `params` field holds. */
  recordedParams: Record<string, unknown>;
  strategy: CompensationStrategy;
  /** Whether intents and claims are written at all (false for reads). */
  durable: boolean;
}

/**
 * The durable records of one step, attempt by attempt: what the attempt loop
 * writes through. {@link KeyLedger} pairs the audit trail and the index (the
 * file backend); `AtomicKeyLedger` writes each pair in one transaction.
 */
export interface StepLedger {
  /** The current attempt's intent. */
  readonly intentSeq: number | undefined;
  /** Whether this step has a key in the index (not a read, not dev mode without an index). */
  readonly keyed: boolean;
  /**
   * Records the attempt's intent and claims the key.
   * @returns the claim; `claimed: false` when the index refused it.
   */
  open(): Promise<IdempotencyClaim>;
  /** The side effect returned: its recorded form and the key completed. */
  completed(recorded: unknown): Promise<void>;
  /** A reconcile hook said the effect happened. */
  reconciled(): Promise<void>;
  /** A terminal failure. @returns the recorded error text. */
  failed(code: string, description: string): Promise<string>;
  /** The step may run again (now or later). */
  runnable(code: string, description: string): Promise<void>;
}

/**
 * The durable records of one step, attempt by attempt, in the order that
 * keeps a crash at any point safe:
 *
 * - an attempt opens with its intent, then its claim (the key pending);
 * - success: the result, then `markCompleted`;
 * - a terminal failure: the error, then `markFailed`;
 * - a failure that leaves the step runnable: first `reset` (the key
 *   unknown again), then the error with a runnable code: a crash in between
 *   leaves an open intent that boot closes as `ABANDONED`, never a pending
 *   key with an error (which the index would settle as failed).
 *
 * Without an audit trail or an index (dev mode) the missing half is skipped.
 */
export class KeyLedger implements StepLedger {
  readonly #context: ExecutorContext;
  readonly #subject: LedgerSubject;
  /** The pending intent a re-run takes over and closes as superseded. */
  #supersede: { intentSeq: number | undefined } | undefined;
  #intentSeq: number | undefined;

  /**
   * @param context - the executor's services.
   * @param subject - the step.
   * @param supersede - set when the key is pending from before and may be taken over.
   */
  constructor(
    context: ExecutorContext,
    subject: LedgerSubject,
    supersede?: { intentSeq: number | undefined },
  ) {
    this.#context = context;
    this.#subject = subject;
    this.#supersede = supersede;
  }

  /** The current attempt's intent. */
  get intentSeq(): number | undefined {
    return this.#intentSeq;
  }

  /**
   * Records the attempt's intent and claims the key.
   * @returns the claim; `claimed: false` when the index refused it (the intent is then closed).
   */
  async open(): Promise<IdempotencyClaim> {
    const { audit, index } = this.#context;
    const subject = this.#subject;
    this.#intentSeq = undefined;
    if (!subject.durable) return { claimed: true };
    if (audit) {
      this.#intentSeq = await audit.recordIntent({
        action: subject.action,
        target: subject.target,
        params: subject.recordedParams,
        ...(subject.key === "" ? {} : { dedupeKey: subject.key }),
      });
      await this.#report("intent");
    }
    if (!index || subject.key === "") return { claimed: true };
    const claim = await index.markPending(subject.key, this.#intentSeq ?? 0, {
      strategy: subject.strategy,
      action: subject.action,
      takeover: this.#supersede !== undefined,
    });
    if (!claim.claimed) {
      await this.#close(
        undefined,
        `${RECORDED_ERROR_CODES.notClaimed}: the key was ${claim.reason ?? "taken"}`,
      );
      return claim;
    }
    this.#context.rerunnable.delete(subject.key);
    await this.#report("pending");
    const superseded = this.#supersede?.intentSeq;
    this.#supersede = undefined;
    if (superseded !== undefined && audit) {
      await closeIfOpen(this.#context, superseded, {
        error: `${RECORDED_ERROR_CODES.superseded}: re-run as intent ${this.#intentSeq}`,
      });
    }
    return claim;
  }

  /** The side effect returned: its recorded form, then the key completed. */
  async completed(recorded: unknown): Promise<void> {
    await this.#report("execute");
    await this.#close(recorded, undefined);
    await this.#report("result");
    await this.#settleQuietly(() =>
      this.#context.index?.markCompleted(this.#subject.key, recorded),
    );
    await this.#report("completed");
  }

  /** A reconcile hook said the effect happened: the marker, then the key completed. */
  async reconciled(): Promise<void> {
    const marker = reconciledMarker("hook");
    await this.#close(marker, undefined);
    await this.#settleQuietly(() => this.#context.index?.markCompleted(this.#subject.key, marker));
  }

  /** A terminal failure: the error, then the key failed. */
  async failed(code: string, description: string): Promise<string> {
    const text = redactedText(this.#context, `${code}: ${description}`);
    await this.#close(undefined, text);
    if (this.keyed) await this.#context.index?.markFailed(this.#subject.key, text);
    return text;
  }

  /** The step may run again (now or later): the key is removed first, then the error recorded. */
  async runnable(code: string, description: string): Promise<void> {
    if (this.keyed) await this.#context.index?.reset(this.#subject.key);
    await this.#close(undefined, redactedText(this.#context, `${code}: ${description}`));
  }

  /** Whether this step has a key in the index (not a read, not dev mode without an index). */
  get keyed(): boolean {
    return this.#subject.durable && this.#subject.key !== "";
  }

  async #close(result: unknown, error: string | undefined): Promise<void> {
    const intentSeq = this.#intentSeq;
    if (intentSeq === undefined || !this.#context.audit) return;
    await this.#context.audit.recordResult(intentSeq, result, error);
  }

  /**
   * The result is in the audit trail: if the index cannot complete the key
   * now, the next `execute()` (or boot) promotes it from there, so the step
   * still reports what it did.
   */
  async #settleQuietly(settle: () => unknown): Promise<void> {
    if (!this.keyed) return;
    try {
      await settle();
    } catch (error) {
      this.#context.logger.warn(
        "step: the index could not record the outcome; the audit trail has it",
        {
          key: this.#subject.key,
          error,
        },
      );
    }
  }

  async #report(point: DurablePoint): Promise<void> {
    await reportPoint(
      this.#context,
      point,
      this.#subject.action,
      this.#subject.key,
      this.#intentSeq,
    );
  }
}

/** Records how `intentSeq` ended, unless it already has a result. */
export async function closeIfOpen(
  context: ExecutorContext,
  intentSeq: number | undefined,
  outcome: { result?: unknown; error?: string },
): Promise<void> {
  const audit = context.audit;
  if (intentSeq === undefined || !audit) return;
  if (await audit.findResultByIntentSeq(intentSeq)) return;
  await audit.recordResult(intentSeq, outcome.result, outcome.error);
}
