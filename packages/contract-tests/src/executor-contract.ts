import { describe, expect, it } from "vitest";
import { contractArguments } from "./contract-arguments.js";
import { attemptsOf, readVerifiedHistory } from "./history.js";
import type {
  ContractReconcileHook,
  ContractSideEffectContext,
  ContractStep,
  ExecutorSubject,
} from "./subjects.js";

let steps = 0;
const never = (): Promise<never> => new Promise(() => {});

/** Side effects that start and never end, and a wait for a number of them to have started. */
function hanging() {
  let started = 0;
  return {
    run: (): Promise<never> => {
      started++;
      return never();
    },
    async started(count: number): Promise<void> {
      for (let waited = 0; started < count; waited += 10) {
        if (waited > 20_000) throw new Error(`only ${started} of ${count} side effects started`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

/** A fetch answer that is not ok: the failure model reads its status. */
function answer(status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ message: `status ${status}` }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/**
 * The executor contract, through `boot()` on each backend: a step runs once
 * and is deduplicated afterwards, by the next process too, with its result in
 * JSON-safe form; a step cut off by a crash is taken up by its strategy
 * (`safe_retry` runs again, `check_then_retry` asks its hook, `skip` fails
 * `OUTCOME_UNKNOWN`); a rejection is terminal, a failure that sent nothing
 * leaves the key runnable; an operator's reset and resolution are honoured;
 * the history shows every attempt with one result each, and verifies. With
 * `attemptIds`, `run()` gets each claim's attempt id and fence.
 * @param makeSubject - called once per test, on empty storage.
 */
export function executorContract(makeSubject: () => Promise<ExecutorSubject>): void;
/**
 * The same suite, titled with the backend's name.
 * @param name - the backend, for the suite's title.
 * @param makeSubject - as for the untitled suite.
 */
export function executorContract(name: string, makeSubject: () => Promise<ExecutorSubject>): void;
export function executorContract(
  first: string | (() => Promise<ExecutorSubject>),
  second?: () => Promise<ExecutorSubject>,
): void {
  const { name, makeSubject } = contractArguments(first, second);
  const stepOf = (action: string, run: ContractStep["run"], label = action): ContractStep => ({
    action,
    scope: "acme/widgets",
    resource: `${label}-${++steps}`,
    params: { body: `step ${steps}` },
    run,
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
  });

  describe(`executor contract: ${name}`, () => {
    it("runs a step once and deduplicates it, in this process and the next, with its JSON-safe result", async () => {
      const subject = await makeSubject();
      const contexts: ContractSideEffectContext[] = [];
      const step = stepOf("add_labels", async (context) => {
        contexts.push(context);
        return { labels: ["bug"], count: 2n, at: new Date(0) };
      });
      const first = await subject.start();
      const executed = await first.executor.execute(step);
      expect(executed).toMatchObject({ status: "executed", result: { count: 2n } });
      expect(await first.executor.execute(step)).toEqual({
        status: "deduplicated",
        idempotencyKey: executed.idempotencyKey,
        result: { labels: ["bug"], count: "2", at: "1970-01-01T00:00:00.000Z" },
      });
      await first.shutdown();
      const next = await subject.start();
      expect(await next.executor.execute(step)).toMatchObject({ status: "deduplicated" });
      expect(contexts).toHaveLength(1);
      const context = contexts[0] as ContractSideEffectContext;
      expect(context).toMatchObject({ attempt: 1, idempotencyKey: executed.idempotencyKey });
      expect(context.intentSeq).toEqual(expect.any(Number));
      if (subject.capabilities.attemptIds) {
        expect(context.attemptId).toMatch(/^[0-9a-f-]{36}$/);
        expect(context.fence).toEqual(expect.any(Number));
      } else {
        expect(context.attemptId).toBeUndefined();
        expect(context.fence).toBeUndefined();
      }
      await next.shutdown();
      const records = await readVerifiedHistory(await subject.exportHistory());
      const attempts = attemptsOf(records, executed.idempotencyKey);
      expect(attempts).toHaveLength(1);
      expect(attempts[0]?.result).toMatchObject({ result: { labels: ["bug"], count: "2" } });
    });

    it("takes a step cut off by a crash up by its strategy", async () => {
      const subject = await makeSubject();
      const crashed = await subject.start();
      const effects = hanging();
      const retry = stepOf("add_labels", effects.run, "retry");
      const checkDone = stepOf("add_issue_comment", effects.run, "check-done");
      const checkNotDone = stepOf("add_issue_comment", effects.run, "check-not-done");
      const skip = stepOf("merge_pull_request", effects.run, "skip");
      for (const step of [retry, checkDone, checkNotDone, skip]) {
        void crashed.executor.execute(step).catch(() => {});
      }
      await effects.started(4);
      await crashed.crash();
      const asked: string[] = [];
      const hook: ContractReconcileHook = async ({ resource, params }) => {
        asked.push(`${resource}:${JSON.stringify(params)}`);
        return resource === checkDone.resource ? "done" : "not_done";
      };
      const next = await subject.start({ reconcilers: { add_issue_comment: hook } });
      expect(next.reconciliation?.promoted).toHaveLength(1);
      expect(next.reconciliation?.rerun).toHaveLength(2);
      expect(next.reconciliation?.failed).toHaveLength(1);
      expect(asked.sort()).toEqual(
        [checkDone, checkNotDone]
          .map((step) => `${step.resource}:${JSON.stringify(step.params)}`)
          .sort(),
      );
      let reruns = 0;
      const rerun = async () => {
        reruns++;
        return "again";
      };
      expect(await next.executor.execute({ ...retry, run: rerun })).toMatchObject({
        status: "executed",
      });
      expect(await next.executor.execute({ ...checkNotDone, run: rerun })).toMatchObject({
        status: "executed",
      });
      expect(await next.executor.execute({ ...checkDone, run: rerun })).toMatchObject({
        status: "reconciled",
      });
      await expect(next.executor.execute({ ...skip, run: rerun })).rejects.toMatchObject({
        code: "STEP_FAILED",
        previousError: expect.stringMatching(/^OUTCOME_UNKNOWN: /),
      });
      expect(reruns).toBe(2);
      await next.shutdown();
      const records = await readVerifiedHistory(await subject.exportHistory());
      // Every intent of every step has its one result now.
      for (const record of records.filter((candidate) => candidate.phase === "intent")) {
        expect(records.some((candidate) => candidate.intentSeq === record.seq)).toBe(true);
      }
    });

    it("fails a rejected step for good, and leaves one that sent nothing runnable", async () => {
      const subject = await makeSubject();
      const instance = await subject.start();
      let rejectedRuns = 0;
      const rejected = stepOf("add_labels", async () => {
        rejectedRuns++;
        throw answer(422);
      });
      await expect(instance.executor.execute(rejected)).rejects.toBeInstanceOf(Response);
      await expect(instance.executor.execute(rejected)).rejects.toMatchObject({
        code: "STEP_FAILED",
        previousError: expect.stringMatching(/^REJECTED: /),
      });
      expect(rejectedRuns).toBe(1);
      let refusedRuns = 0;
      const refused = stepOf("add_issue_comment", async () => {
        refusedRuns++;
        throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
          code: "ECONNREFUSED",
        });
      });
      await expect(instance.executor.execute(refused)).rejects.toMatchObject({
        code: "ECONNREFUSED",
      });
      expect(refusedRuns).toBe(2);
      const sent = await instance.executor.execute({ ...refused, run: async () => "sent at last" });
      expect(sent).toMatchObject({ status: "executed", result: "sent at last" });
      await instance.shutdown();
      const records = await readVerifiedHistory(await subject.exportHistory());
      // Two refused attempts and the successful one: three intents, three results.
      const attempts = attemptsOf(records, sent.idempotencyKey);
      expect(attempts.map((attempt) => attempt.result?.error?.split(":")[0] ?? "ok")).toEqual([
        "RETRYING",
        "NOT_SENT",
        "ok",
      ]);
    });

    it("honours an operator's reset and resolution, recording them", async () => {
      const subject = await makeSubject();
      const instance = await subject.start();
      let runs = 0;
      const step = stepOf("add_labels", async () => ++runs);
      const { idempotencyKey } = await instance.executor.execute(step);
      await instance.executor.resetKey(idempotencyKey, { reason: "wanted again" });
      expect(await instance.executor.execute(step)).toMatchObject({
        status: "executed",
        result: 2,
      });
      // Cut off by a crash, with no hook to ask: boot leaves it pending for a
      // hook registered after boot (awaitingHook); asked again with still no
      // hook, it fails as outcome unknown; a human checked, and it had happened.
      const effects = hanging();
      const pending = stepOf("add_issue_comment", effects.run, "resolve");
      void instance.executor.execute(pending).catch(() => {});
      await effects.started(1);
      await instance.crash();
      const next = await subject.start();
      expect(next.reconciliation?.failed).toEqual([]);
      expect(next.reconciliation?.awaitingHook).toHaveLength(1);
      const key = next.reconciliation?.awaitingHook[0] as string;
      await expect(next.executor.execute(pending)).rejects.toMatchObject({
        code: "STEP_FAILED",
        previousError: expect.stringMatching(/^OUTCOME_UNKNOWN/),
      });
      await next.executor.resolveKey(key, "done", { reason: "checked by hand" });
      expect(await next.executor.execute(pending)).toMatchObject({ status: "reconciled" });
      await next.shutdown();
      await readVerifiedHistory(await subject.exportHistory());
    });
  });
}
