import { describe, expect, it } from "vitest";
import { BENIGN_LINES } from "./__fixtures__/benign-corpus.js";
import { SECRET_CONTEXTS, SECRET_FAMILIES } from "./__fixtures__/secret-corpus.js";
import { SecretRedactor } from "./secret-redactor.js";

// Every family of fake secret in every context, through every entry point:
// redact(), redactAny() (values, keys, arrays, Map/Set, nested) and
// redactError() with a cause chain. A case is clean when no 12-character
// window of the secret's sensitive part is left in any string of the output.

const redactor = new SecretRedactor();
const WINDOW = 12;

/** Every string in a redacted value, keys included, and the texts of errors and their causes. */
function strings(value: unknown, into: string[] = [], seen = new Set<unknown>()): string[] {
  if (typeof value === "string") {
    into.push(value);
    return into;
  }
  if (typeof value !== "object" || value === null || seen.has(value)) return into;
  seen.add(value);
  if (value instanceof Error) {
    into.push(value.name, value.message, String(value.stack));
    strings((value as { cause?: unknown }).cause, into, seen);
  }
  for (const [key, entry] of Object.entries(value)) {
    into.push(key);
    strings(entry, into, seen);
  }
  return into;
}

/** The windows of `sensitive` that must not appear; short parts are checked whole. */
function windows(sensitive: string): string[] {
  if (sensitive.length <= WINDOW) return [sensitive];
  const result: string[] = [];
  for (let start = 0; start + WINDOW <= sensitive.length; start += 4) {
    result.push(sensitive.slice(start, start + WINDOW));
  }
  return result;
}

const CHANNELS: Readonly<Record<string, (text: string) => unknown>> = {
  redact: (text) => redactor.redact(text),
  "redactAny value": (text) => redactor.redactAny({ value: text }),
  "redactAny key": (text) => redactor.redactAny({ [text]: "v" }),
  "redactAny array": (text) => redactor.redactAny(["a", text]),
  "redactAny Map value": (text) => redactor.redactAny(new Map([["k", text]])),
  "redactAny Map key": (text) => redactor.redactAny(new Map([[text, "v"]])),
  "redactAny Set": (text) => redactor.redactAny(new Set([text])),
  "redactAny nested": (text) => redactor.redactAny({ a: { b: [{ c: [text] }] } }),
  "redactAny error": (text) => redactor.redactAny({ error: new Error(text) }),
  "redactError with causes": (text) =>
    redactor.redactError(
      new Error(`failed: ${text}`, { cause: new Error(text, { cause: { detail: text } }) }),
    ),
};

interface Tally {
  clean: number;
  total: number;
  misses: string[];
}

function measureCorpus(): Map<string, Tally> {
  const tallies = new Map<string, Tally>();
  for (const { family, text, sensitive } of SECRET_FAMILIES) {
    const tally: Tally = { clean: 0, total: 0, misses: [] };
    tallies.set(family, tally);
    for (const { context, place, percentEncoded } of SECRET_CONTEXTS) {
      const forbidden = sensitive.flatMap((part) =>
        percentEncoded ? [...windows(part), ...windows(encodeURIComponent(part))] : windows(part),
      );
      const input = place(text);
      for (const [channel, run] of Object.entries(CHANNELS)) {
        const output = strings(run(input)).join("\u0000");
        const leaked = forbidden.some((window) => output.includes(window));
        tally.total++;
        if (leaked) tally.misses.push(`${context} / ${channel}`);
        else tally.clean++;
      }
    }
  }
  return tallies;
}

describe("the secret corpus", () => {
  const tallies = measureCorpus();
  const rows = [...tallies].map(([family, { clean, total, misses }]) => ({
    family,
    clean: (100 * clean) / total,
    misses,
  }));
  const clean = [...tallies.values()].reduce((sum, tally) => sum + tally.clean, 0);
  const total = [...tallies.values()].reduce((sum, tally) => sum + tally.total, 0);
  const overall = (100 * clean) / total;

  it("has at least 35 families in at least 40 contexts", () => {
    expect(SECRET_FAMILIES.length).toBeGreaterThanOrEqual(35);
    expect(SECRET_CONTEXTS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(SECRET_FAMILIES.map((family) => family.family)).size).toBe(
      SECRET_FAMILIES.length,
    );
  });

  it("comes out at least 99 % clean overall, no family below 95 %", () => {
    const report = rows
      .map(
        ({ family, clean: percent, misses }) =>
          `${percent.toFixed(1).padStart(6)} %  ${family}${misses.length > 0 ? `  (missed: ${misses.slice(0, 4).join("; ")}${misses.length > 4 ? "; …" : ""})` : ""}`,
      )
      .join("\n");
    console.info(
      `secret corpus: ${SECRET_FAMILIES.length} families × ${SECRET_CONTEXTS.length} contexts × ${Object.keys(CHANNELS).length} entry points = ${total} cases, ${overall.toFixed(2)} % clean\n${report}`,
    );
    expect(overall).toBeGreaterThanOrEqual(99);
    for (const { family, clean: percent } of rows)
      expect(percent, family).toBeGreaterThanOrEqual(95);
  });
});

describe("the benign corpus", () => {
  it("has at least 120 lines, at most 1 % of them altered", () => {
    expect(BENIGN_LINES.length).toBeGreaterThanOrEqual(120);
    const altered = BENIGN_LINES.filter((line) => redactor.redact(line) !== line);
    console.info(
      `benign corpus: ${BENIGN_LINES.length} lines, ${altered.length} altered (${((100 * altered.length) / BENIGN_LINES.length).toFixed(2)} %)${altered.map((line) => `\n  ${redactor.redact(line).slice(0, 160)}`).join("")}`,
    );
    expect(altered.length / BENIGN_LINES.length).toBeLessThanOrEqual(0.01);
  });

  it("leaves benign values in objects alone too", () => {
    const altered = BENIGN_LINES.filter(
      (line) => JSON.stringify(redactor.redactAny({ line })) !== JSON.stringify({ line }),
    );
    expect(altered.length / BENIGN_LINES.length).toBeLessThanOrEqual(0.01);
  });
});
