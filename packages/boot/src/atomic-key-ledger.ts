import { StepSupersededError } from "./errors.js";
import {
  type DurablePoint,
  type ExecutorContext,
  redactedText,
  reportPoint,
} from "./executor-context.js";
import type { LedgerSubject, StepLedger } from "./key-ledger.js";
import type {
  AtomicSettleInput,
  AtomicSettleOutcome,
  AtomicStepPort,
  IdempotencyClaim,
} from "./ports.js";
import { RECORDED_ERROR_CODES } from "./recorded-verdict.js";
import { reconciledMarker } from "./step-outcome.js";
import type { PendingAdvance } from "./workflow-advance.js";

/**
 * The records of one step on a backend that writes each pair in one
 * transaction, fenced by the attempt (PostgreSQL): an attempt opens with its
 * claim and intent together (the `intent` and `pending` points are one), and
 * ends with its result and settlement together (`result` and `completed`
 * are one), the workflow run advanced in the same transaction when the
 * engine attached one. A settlement the backend refuses (the attempt was
 * taken over, or reset) changed nothing.
 */
export class AtomicKeyLedger implements StepLedger {
  readonly #context: ExecutorContext;
  readonly #atomic: AtomicStepPort;
  readonly #subject: LedgerSubject;
  readonly #advance: PendingAdvance | undefined;
  /** A pending key this replica holds, to re-run under a new attempt. */
  #supersede: { intentSeq: number | undefined; attemptId?: string | undefined } | undefined;
  #intentSeq: number | undefined;
  #attemptId: string | undefined;

  /**
   * @param context - the executor's services.
   * @param atomic - the backend's two-transaction step.
   * @param subject - the step.
   * @param supersede - set when the key is pending here from before and is re-run.
   * @param advance - the workflow run to advance with the step's completion.
   */
  constructor(
    context: ExecutorContext,
    atomic: AtomicStepPort,
    subject: LedgerSubject,
    supersede?: { intentSeq: number | undefined; attemptId?: string | undefined },
    advance?: PendingAdvance,
  ) {
    this.#context = context;
    this.#atomic = atomic;
    this.#subject = subject;
    this.#supersede = supersede;
    this.#advance = advance;
  }

  get intentSeq(): number | undefined {
    return this.#intentSeq;
  }

  get keyed(): boolean {
    return true;
  }

  async open(): Promise<IdempotencyClaim> {
    const subject = this.#subject;
    this.#intentSeq = undefined;
    this.#attemptId = undefined;
    const held = this.#supersede?.attemptId;
    const claim = await this.#atomic.claim({
      key: subject.key,
      action: subject.action,
      strategy: subject.strategy,
      target: subject.target,
      params: subject.recordedParams,
      supersede:
        held === undefined
          ? undefined
          : {
              attemptId: held,
              error: `${RECORDED_ERROR_CODES.superseded}: re-run under a new attempt`,
            },
    });
    if (!claim.claimed) {
      return {
        claimed: false,
        reason: claim.entry?.status ?? "taken",
        entry: claim.entry ?? undefined,
      };
    }
    this.#supersede = undefined;
    this.#intentSeq = claim.intentSeq;
    this.#attemptId = claim.attemptId;
    this.#context.rerunnable.delete(subject.key);
    await this.#report("intent");
    await this.#report("pending");
    return { claimed: true, attemptId: claim.attemptId, fence: claim.fence };
  }

  async completed(recorded: unknown): Promise<void> {
    await this.#report("execute");
    const advance = this.#advance;
    const outcome = await this.#settle({
      status: "completed",
      result: recorded,
      workflow:
        advance === undefined
          ? undefined
          : { runId: advance.runId, ownership: advance.ownership, state: advance.next(recorded) },
    });
    if (!outcome.settled) throw new StepSupersededError(this.#subject.key);
    if (advance) advance.saved = outcome.workflowAdvanced;
    await this.#report("result");
    await this.#report("completed");
  }

  async reconciled(): Promise<void> {
    const outcome = await this.#settle({ status: "completed", result: reconciledMarker("hook") });
    if (!outcome.settled) throw new StepSupersededError(this.#subject.key);
  }

  async failed(code: string, description: string): Promise<string> {
    const text = redactedText(this.#context, `${code}: ${description}`);
    this.#warnIfSuperseded(await this.#settle({ status: "failed", error: text }));
    return text;
  }

  async runnable(code: string, description: string): Promise<void> {
    const text = redactedText(this.#context, `${code}: ${description}`);
    this.#warnIfSuperseded(await this.#settle({ status: "released", error: text }));
  }

  #settle(input: Omit<AtomicSettleInput, "key" | "attemptId">): Promise<AtomicSettleOutcome> {
    const attemptId = this.#attemptId;
    if (attemptId === undefined) throw new Error("settle before a claim");
    return this.#atomic.settle({ key: this.#subject.key, attemptId, ...input });
  }

  /** A failure's own error is what the caller gets; the lost settlement is only logged. */
  #warnIfSuperseded(outcome: AtomicSettleOutcome): void {
    if (outcome.settled) return;
    this.#context.logger.warn(
      "step: the attempt was taken over before its failure was recorded; the key's owner settles it",
      { key: this.#subject.key },
    );
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
