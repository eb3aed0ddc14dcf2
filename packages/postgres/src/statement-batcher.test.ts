import { describe, expect, it } from "vitest";
import { StatementBatcher, type StatementBatcherOptions } from "./statement-batcher.js";

interface Sent {
  inputs: string[];
  signal: AbortSignal;
  answer(outputs?: readonly string[]): void;
  fail(error: unknown): void;
}

/** A batcher whose batches wait until the test answers them. */
function controlled(options: Partial<StatementBatcherOptions<string, string>> = {}) {
  const sent: Sent[] = [];
  const batcher = new StatementBatcher<string, string>({
    send: (inputs, signal) =>
      new Promise((resolve, reject) => {
        sent.push({
          inputs: [...inputs],
          signal,
          answer: (outputs) => resolve(outputs ?? inputs.map((input) => `done:${input}`)),
          fail: reject,
        });
      }),
    ...options,
  });
  return { batcher, sent };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("StatementBatcher", () => {
  it("sends a lone caller at once, alone", async () => {
    const { batcher, sent } = controlled();
    const done = batcher.submit("a");
    await Promise.resolve();
    expect(sent.map((batch) => batch.inputs)).toEqual([["a"]]);
    sent[0]!.answer();
    await expect(done).resolves.toBe("done:a");
  });

  it("gathers callers that arrive while batches are in flight, each answered with its own output", async () => {
    const { batcher, sent } = controlled({ maxInFlight: 1 });
    const first = batcher.submit("a");
    await tick();
    const rest = ["b", "c", "d"].map((input) => batcher.submit(input));
    await tick();
    expect(sent.map((batch) => batch.inputs)).toEqual([["a"]]);
    expect(batcher.queued).toBe(3);
    sent[0]!.answer();
    await expect(first).resolves.toBe("done:a");
    expect(sent.map((batch) => batch.inputs)).toEqual([["a"], ["b", "c", "d"]]);
    sent[1]!.answer(["B", "C", "D"]);
    await expect(Promise.all(rest)).resolves.toEqual(["B", "C", "D"]);
  });

  it("resolves a caller only once its own batch has answered", async () => {
    const { batcher, sent } = controlled({ maxInFlight: 2 });
    let firstDone = false;
    const first = batcher.submit("a").then((value) => {
      firstDone = true;
      return value;
    });
    await tick();
    const second = batcher.submit("b");
    await tick();
    expect(sent).toHaveLength(2);
    sent[1]!.answer();
    await expect(second).resolves.toBe("done:b");
    await tick();
    expect(firstDone).toBe(false);
    sent[0]!.answer();
    await expect(first).resolves.toBe("done:a");
  });

  it("never puts one key twice in a batch, nor in two batches in flight", async () => {
    const { batcher, sent } = controlled({
      maxInFlight: 2,
      conflictKeys: (input) => [input.split(":")[0]!],
    });
    const outputs = ["k1:1", "k1:2", "k2:1", "k1:3"].map((input) => batcher.submit(input));
    await tick();
    expect(sent.map((batch) => batch.inputs)).toEqual([["k1:1", "k2:1"]]);
    sent[0]!.answer();
    await tick();
    expect(sent.map((batch) => batch.inputs)).toEqual([["k1:1", "k2:1"], ["k1:2"]]);
    sent[1]!.answer();
    await tick();
    sent[2]!.answer();
    await expect(Promise.all(outputs)).resolves.toEqual([
      "done:k1:1",
      "done:k1:2",
      "done:k2:1",
      "done:k1:3",
    ]);
  });

  it("bounds a batch's size", async () => {
    const { batcher, sent } = controlled({ maxBatchSize: 2, maxInFlight: 3 });
    const all = ["a", "b", "c", "d", "e"].map((input) => batcher.submit(input));
    await tick();
    expect(sent.map((batch) => batch.inputs)).toEqual([["a", "b"], ["c", "d"], ["e"]]);
    for (const batch of sent) batch.answer();
    await expect(Promise.all(all)).resolves.toHaveLength(5);
  });

  it("drops a caller aborted while queued: rejected with the signal's reason, never sent", async () => {
    const { batcher, sent } = controlled({ maxInFlight: 1 });
    const first = batcher.submit("a");
    await tick();
    const controller = new AbortController();
    const abandoned = batcher.submit("b", controller.signal);
    const kept = batcher.submit("c");
    controller.abort(new Error("caller gave up"));
    await expect(abandoned).rejects.toThrow("caller gave up");
    sent[0]!.answer();
    await first;
    await tick();
    expect(sent.map((batch) => batch.inputs)).toEqual([["a"], ["c"]]);
    sent[1]!.answer();
    await expect(kept).resolves.toBe("done:c");
    const aborted = AbortSignal.abort(new Error("already"));
    await expect(batcher.submit("d", aborted)).rejects.toThrow("already");
  });

  it("stops waiting for a batch in flight on abort, and aborts the batch once every member did", async () => {
    const { batcher, sent } = controlled();
    const controllers = [new AbortController(), new AbortController()];
    const waiting = ["a", "b"].map((input, index) =>
      batcher.submit(input, controllers[index]!.signal),
    );
    await tick();
    controllers[0]!.abort(new Error("first gave up"));
    await expect(waiting[0]).rejects.toThrow("first gave up");
    expect(sent[0]!.signal.aborted).toBe(false);
    controllers[1]!.abort(new Error("second gave up"));
    await expect(waiting[1]).rejects.toThrow("second gave up");
    expect(sent[0]!.signal.aborted).toBe(true);
    sent[0]!.answer();
  });

  it("fails every member with a batch's failure it may not isolate", async () => {
    const { batcher, sent } = controlled();
    const members = Promise.allSettled(["a", "b"].map((input) => batcher.submit(input)));
    await tick();
    const failure = new Error("outcome unknown");
    sent[0]!.fail(failure);
    expect(await members).toEqual([
      { status: "rejected", reason: failure },
      { status: "rejected", reason: failure },
    ]);
  });

  it("sends the members of a refused batch again one by one, so one bad row fails alone", async () => {
    const { batcher, sent } = controlled({ isolate: (error) => error === refused, maxInFlight: 1 });
    const refused = new Error("bad row");
    const members = Promise.allSettled(
      ["good", "bad", "fine"].map((input) => batcher.submit(input)),
    );
    const later = (async () => {
      await tick();
      return batcher.submit("later");
    })();
    await tick();
    sent[0]!.fail(refused);
    await tick();
    expect(sent.map((batch) => batch.inputs)).toEqual([["good", "bad", "fine"], ["good"]]);
    sent[1]!.answer();
    await tick();
    sent[2]!.fail(refused);
    await tick();
    sent[3]!.answer();
    await tick();
    expect(sent.map((batch) => batch.inputs).slice(1)).toEqual([
      ["good"],
      ["bad"],
      ["fine"],
      ["later"],
    ]);
    sent[4]!.answer();
    expect(await members).toEqual([
      { status: "fulfilled", value: "done:good" },
      { status: "rejected", reason: refused },
      { status: "fulfilled", value: "done:fine" },
    ]);
    expect(await later).toBe("done:later");
  });

  it("fails a batch answered with the wrong number of outputs", async () => {
    const { batcher, sent } = controlled();
    const member = batcher.submit("a");
    await tick();
    sent[0]!.answer([]);
    await expect(member).rejects.toThrow("a batch of 1 was answered with 0 outputs");
  });

  it("refuses bounds that are not positive integers", () => {
    const send = async () => [];
    expect(() => new StatementBatcher({ send, maxBatchSize: 0 })).toThrow(RangeError);
    expect(() => new StatementBatcher({ send, maxInFlight: 1.5 })).toThrow(/maxInFlight/);
  });
});
