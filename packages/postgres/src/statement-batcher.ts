/** What a {@link StatementBatcher} is made with. */
export interface StatementBatcherOptions<Input, Output> {
  /**
   * Sends one batch as one statement (one transaction, one commit) and answers
   * one output per input, in the inputs' order. A rejection fails the batch.
   * `signal` aborts once every member of the batch has stopped waiting.
   */
  send(inputs: readonly Input[], signal: AbortSignal): Promise<readonly Output[]>;
  /**
   * Names an input locks or changes (a key): two inputs sharing one are never
   * in one batch, nor in two batches in flight at once (a multi-row upsert may
   * touch a row only once). @default none
   */
  conflictKeys?: (input: Input) => readonly string[];
  /** Members per batch. @default 64 */
  maxBatchSize?: number;
  /** Batches in flight at once; more callers wait and form the next batch. @default 1 */
  maxInFlight?: number;
  /**
   * Whether a batch of several that failed with this error is sent again
   * member by member, so that one bad row cannot fail its neighbours (the
   * statement rolled back as a whole, so nothing of it committed). Errors it
   * rejects fail every member. @default never
   */
  isolate?: (error: unknown) => boolean;
}

/** Defaults of {@link StatementBatcherOptions}. */
export const STATEMENT_BATCHER_DEFAULTS = Object.freeze({ maxBatchSize: 64, maxInFlight: 1 });

interface Batch {
  readonly controller: AbortController;
  waiting: number;
}

interface Member<Input, Output> {
  readonly input: Input;
  readonly keys: readonly string[];
  readonly resolve: (value: Output) => void;
  readonly reject: (error: unknown) => void;
  readonly detach: () => void;
  /** Resolved, rejected or abandoned by its caller. */
  done: boolean;
  /** Sent in a batch of its own (after a batch it was in failed). */
  alone: boolean;
  batch: Batch | undefined;
}

/**
 * Group commit in the client: concurrent callers of one statement are sent as
 * one multi-row statement, so N commits (and N WAL flushes) become one. A
 * caller alone goes out at once (no timer: a batch forms only while earlier
 * batches are in flight), and each caller's promise settles only once the
 * batch it was in has answered, with its own row's outcome.
 */
export class StatementBatcher<Input, Output> {
  readonly #send: StatementBatcherOptions<Input, Output>["send"];
  readonly #conflictKeys: (input: Input) => readonly string[];
  readonly #isolate: (error: unknown) => boolean;
  readonly #maxBatchSize: number;
  readonly #maxInFlight: number;
  #queue: Member<Input, Output>[] = [];
  readonly #busyKeys = new Set<string>();
  #inFlight = 0;
  #scheduled = false;

  /**
   * @param options - how a batch is sent, what conflicts, the bounds.
   * @throws RangeError for a bound that is not a positive integer.
   */
  constructor(options: StatementBatcherOptions<Input, Output>) {
    this.#send = options.send;
    this.#conflictKeys = options.conflictKeys ?? (() => []);
    this.#isolate = options.isolate ?? (() => false);
    this.#maxBatchSize = positiveInteger(
      options.maxBatchSize ?? STATEMENT_BATCHER_DEFAULTS.maxBatchSize,
      "maxBatchSize",
    );
    this.#maxInFlight = positiveInteger(
      options.maxInFlight ?? STATEMENT_BATCHER_DEFAULTS.maxInFlight,
      "maxInFlight",
    );
  }

  /** Callers waiting for a batch to go out (not those in flight). */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Sends `input` in the next batch.
   * @param signal - stops waiting: while queued, the input is never sent; once
   *   sent, its statement may still commit (send it again to learn its outcome).
   * @returns this input's output, once its batch has answered.
   * @throws the batch's failure, or the signal's reason.
   */
  submit(input: Input, signal?: AbortSignal): Promise<Output> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Output>((resolve, reject) => {
      const onAbort = () => this.#abandon(member, signal?.reason);
      const member: Member<Input, Output> = {
        input,
        keys: this.#conflictKeys(input),
        resolve,
        reject,
        detach: () => signal?.removeEventListener("abort", onAbort),
        done: false,
        alone: false,
        batch: undefined,
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(member);
      this.#schedule();
    });
  }

  #abandon(member: Member<Input, Output>, reason: unknown): void {
    if (member.done) return;
    member.done = true;
    const batch = member.batch;
    if (batch === undefined) {
      this.#queue = this.#queue.filter((queued) => queued !== member);
    } else if (--batch.waiting === 0) {
      batch.controller.abort(reason);
    }
    member.reject(reason);
  }

  // Callers of one tick share a batch without waiting for a timer.
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const members = this.#take();
      if (members.length === 0) return;
      void this.#dispatch(members);
    }
  }

  /** The next batch: queued members in order, skipping those whose keys are taken. */
  #take(): Member<Input, Output>[] {
    const taken: Member<Input, Output>[] = [];
    const keys = new Set<string>();
    const left: Member<Input, Output>[] = [];
    for (const member of this.#queue) {
      const free = member.keys.every((key) => !this.#busyKeys.has(key) && !keys.has(key));
      const fits =
        taken.length < this.#maxBatchSize &&
        free &&
        (member.alone ? taken.length === 0 : !taken[0]?.alone);
      if (!fits) {
        left.push(member);
        continue;
      }
      taken.push(member);
      for (const key of member.keys) keys.add(key);
    }
    this.#queue = left;
    return taken;
  }

  async #dispatch(members: Member<Input, Output>[]): Promise<void> {
    this.#inFlight++;
    const batch: Batch = { controller: new AbortController(), waiting: members.length };
    for (const member of members) {
      member.batch = batch;
      for (const key of member.keys) this.#busyKeys.add(key);
    }
    try {
      const outputs = await this.#send(
        members.map((member) => member.input),
        batch.controller.signal,
      );
      if (outputs.length !== members.length) {
        throw new Error(`a batch of ${members.length} was answered with ${outputs.length} outputs`);
      }
      for (const [index, member] of members.entries()) {
        this.#finish(member, () => member.resolve(outputs[index]!));
      }
    } catch (error) {
      if (members.length > 1 && this.#isolate(error)) {
        // Sent again one by one, ahead of later callers.
        const again = members.filter((member) => !member.done);
        for (const member of again) {
          member.alone = true;
          member.batch = undefined;
        }
        this.#queue = [...again, ...this.#queue];
      } else {
        for (const member of members) this.#finish(member, () => member.reject(error));
      }
    } finally {
      for (const member of members) for (const key of member.keys) this.#busyKeys.delete(key);
      this.#inFlight--;
      this.#pump();
    }
  }

  #finish(member: Member<Input, Output>, settle: () => void): void {
    if (member.done) return;
    member.done = true;
    member.detach();
    settle();
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
