import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BENIGN_LINES } from "./__fixtures__/benign-corpus.js";
import { FRAGMENTS, fragmentText } from "./__fixtures__/pattern-fragments.js";
import { SECRET_CONTEXTS, SECRET_FAMILIES } from "./__fixtures__/secret-corpus.js";
import { BuiltInPatternSet } from "./pattern-engine.js";
import { BUILT_IN_SECRET_PATTERNS } from "./secret-patterns.js";

// The prefilter is an optimisation: what a text redacts to is defined by the
// combined patterns tried at every position. The two must agree on every input.

const patterns = new BuiltInPatternSet(new Set());
const agree = (text: string): void => {
  expect(patterns.redact(text)).toBe(patterns.redactWithoutPrefilter(text));
};

describe("the prefilter skips only positions where no pattern can match", () => {
  it("on every corpus case", () => {
    for (const { text } of SECRET_FAMILIES) {
      for (const { place } of SECRET_CONTEXTS) agree(place(text));
    }
    for (const line of BENIGN_LINES) agree(line);
  });

  it("on every fragment, alone and between others", () => {
    for (const fragment of FRAGMENTS) {
      agree(fragment);
      agree(`x${fragment}y`);
      agree(`${fragment}${fragment}`);
    }
  });

  it("on text made of pattern fragments", () => {
    fc.assert(fc.property(fragmentText, agree), { numRuns: 5000 });
  });

  it("on arbitrary strings", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 120 }), agree), { numRuns: 2000 });
  });

  it("when hits are dense enough to switch to the combined patterns mid-text", () => {
    const dense = `${"token=a ".repeat(200)}${FRAGMENTS.join(" ")}`;
    agree(dense);
    agree(`${FRAGMENTS.join(" ")} ${"ghp_".repeat(500)} ${FRAGMENTS.join(" ")}`);
  });

  it("with patterns disabled", () => {
    for (const { name } of BUILT_IN_SECRET_PATTERNS) {
      const without = new BuiltInPatternSet(new Set([name]));
      const text = FRAGMENTS.join(" ");
      expect(without.redact(text), name).toBe(without.redactWithoutPrefilter(text));
    }
    const none = new BuiltInPatternSet(new Set(BUILT_IN_SECRET_PATTERNS.map(({ name }) => name)));
    expect(none.redact(FRAGMENTS.join(" "))).toBe(FRAGMENTS.join(" "));
    expect(none.names).toEqual([]);
  });
});
