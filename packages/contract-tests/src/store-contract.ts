import { describe, expect, it } from "vitest";
import { contractArguments } from "./contract-arguments.js";
import type { StoreSubject } from "./subjects.js";

let documents = 0;
const fresh = (label: string) => `contract-${label}-${++documents}-${Date.now().toString(36)}`;

/**
 * The store contract: a JSON document round-trips exactly, survives a new
 * handle (another replica, or the next process), and a write based on a stale
 * read either fails with `STORE_CONFLICT` (`compareAndSet`) or wins (the file
 * store, one process at a time) — each backend states which, and the suite
 * holds it to that.
 * @param makeSubject - called once per test.
 */
export function storeContract(makeSubject: () => Promise<StoreSubject>): void;
/**
 * The same suite, titled with the backend's name.
 * @param name - the backend, for the suite's title.
 * @param makeSubject - as for the untitled suite.
 */
export function storeContract(name: string, makeSubject: () => Promise<StoreSubject>): void;
export function storeContract(
  first: string | (() => Promise<StoreSubject>),
  second?: () => Promise<StoreSubject>,
): void {
  const { name, makeSubject } = contractArguments(first, second);
  describe(`store contract: ${name}`, () => {
    it("reads null for a document never written, then exactly what was written, from any handle", async () => {
      const subject = await makeSubject();
      const document = fresh("roundtrip");
      const writer = subject.open<Record<string, unknown>>(document);
      expect(await writer.get()).toBeNull();
      const value = {
        text: "naïve — 日本 \u{1F600}",
        nested: { list: [1, 2.5, null, true, "x"], empty: {} },
        order: { z: 1, a: 2 },
      };
      await writer.set(value);
      expect(await writer.get()).toEqual(value);
      const reader = subject.open<Record<string, unknown>>(document);
      expect(await reader.get()).toEqual(value);
    });

    it("keeps the latest of a writer's successive writes", async () => {
      const subject = await makeSubject();
      const document = fresh("successive");
      const store = subject.open<{ count: number }>(document);
      for (let count = 1; count <= 5; count++) await store.set({ count });
      expect(await subject.open<{ count: number }>(document).get()).toEqual({ count: 5 });
    });

    it(
      subjectTitle(
        "a write based on a stale read",
        "is refused with STORE_CONFLICT and changes nothing (compare-and-set)",
        "wins: the last write is kept (one process owns the files)",
      ),
      async () => {
        const subject = await makeSubject();
        const document = fresh("stale");
        const first = subject.open<{ by: string }>(document);
        const second = subject.open<{ by: string }>(document);
        await first.set({ by: "first" });
        expect(await second.get()).toEqual({ by: "first" });
        await first.set({ by: "first again" });
        const stale = await second.set({ by: "second" }).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (subject.capabilities.compareAndSet) {
          expect(stale).toMatchObject({ code: "STORE_CONFLICT" });
          expect(await subject.open(document).get()).toEqual({ by: "first again" });
          // Read again, then write: based on the current value, it goes through.
          expect(await second.get()).toEqual({ by: "first again" });
          await second.set({ by: "second, after reading" });
          expect(await subject.open(document).get()).toEqual({ by: "second, after reading" });
        } else {
          expect(stale).toBeUndefined();
          expect(await subject.open(document).get()).toEqual({ by: "second" });
        }
      },
    );

    it("never lets concurrent writes of a document blend: one whole value is kept", async () => {
      const subject = await makeSubject();
      const document = fresh("concurrent");
      // One handle: the file store writes a document through one object per
      // process; a shared store sees four writes based on the same read.
      const store = subject.open<{ writer: number; pad: string }>(document);
      const writers = [0, 1, 2, 3];
      const settled = await Promise.allSettled(
        writers.map((writer) => store.set({ writer, pad: String(writer).repeat(500) })),
      );
      const kept = await subject.open<{ writer: number; pad: string }>(document).get();
      expect(kept).not.toBeNull();
      expect(kept?.pad).toBe(String(kept?.writer).repeat(500));
      const written = settled.filter((outcome) => outcome.status === "fulfilled").length;
      for (const outcome of settled) {
        if (outcome.status === "rejected") {
          expect(outcome.reason, String(outcome.reason)).toMatchObject({ code: "STORE_CONFLICT" });
          expect(subject.capabilities.compareAndSet).toBe(true);
        }
      }
      expect(written).toBeGreaterThanOrEqual(1);
      if (!subject.capabilities.compareAndSet) expect(written).toBe(writers.length);
    });
  });

  function subjectTitle(what: string, whenCas: string, otherwise: string): string {
    return `${what}: ${whenCas}; or, without compare-and-set, ${otherwise}`;
  }
}
