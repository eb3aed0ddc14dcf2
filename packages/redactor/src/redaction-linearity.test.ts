import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { body } from "./__fixtures__/fake-secrets.js";
import { SecretRedactor } from "./secret-redactor.js";

// ReDoS guard. Each input is 1 MiB of near-matches built to make a
// backtracking pattern rescan the text from every position. Redaction must
// stay within a generous factor of a trivial regular expression run over the
// same input in the same moment: a linear pattern lands within a few times the
// baseline, a quadratic one takes minutes and trips either the factor or the
// test timeout. No absolute milliseconds, so a loaded machine does not flake.

const MEBIBYTE = 1024 * 1024;
const FACTOR = 100;

const fill = (unit: string): string =>
  unit.repeat(Math.ceil(MEBIBYTE / unit.length)).slice(0, MEBIBYTE);
const run = (length: number, character: string): string => character.repeat(length);

const ADVERSARIAL: Readonly<Record<string, string>> = {
  "ghp_ with bodies one character short": fill(`ghp_${body(35)} `),
  "ghp_ bodies glued together": fill(`ghp_${body(35)}`),
  "ghp_ alone, repeated": fill("ghp_"),
  "github_pat_ one character short": fill(`github_pat_${body(81)} `),
  "AKIA with 15 characters": fill("AKIAABCDEFGHIJKLMNO "),
  "AKIA then an endless upper-case run": `AKIA${run(MEBIBYTE, "A")}`,
  "AIza one character short": fill(`AIza${body(34)}!`),
  "token= then a run with no terminator": `token=${run(MEBIBYTE, "a")}`,
  "token=token=token=…": fill("token="),
  "token and blanks, never assigned": fill("token               "),
  'password=" never closed': `password="${fill("a ")}`,
  'password=" repeated': fill('password="'),
  "key names in every spelling, never assigned": fill("api_key apiKey API-KEY clientSecret "),
  "Authorization: then a megabyte of blanks": `Authorization: x${run(MEBIBYTE, " ")}y`,
  "header values nested in one line": fill("Authorization: Bearer token=password=x1 "),
  "Bearer repeated": fill("Bearer "),
  "Bearer then a megabyte of blanks": `Bearer ${run(MEBIBYTE, " ")}`,
  "Basic with ordinary words": fill("Basic usage and Basic abcdefgh "),
  "eyJ repeated": fill("eyJ"),
  "eyJ then a run with no dot": `eyJ${run(MEBIBYTE, "a")}`,
  "JWT-like segments without a payload": fill("eyJabcd.xyz."),
  "-----BEGIN without END, repeated": fill("-----BEGIN PRIVATE KEY-----"),
  "-----BEGIN then a megabyte of dashes": `-----BEGIN PRIVATE KEY-----${run(MEBIBYTE, "-")}`,
  ":// repeated": fill("://"),
  "://user: then a long password, no @": fill(`://a:${run(250, "b")}`),
  "://user:pass without @, repeated": fill("://user:pass "),
  "?key= repeated": fill("?key="),
  "&sig= then a run with no terminator": `&sig=${run(MEBIBYTE, "a")}`,
  "xoxb- repeated": fill("xoxb-"),
  "sk- repeated": fill("sk-"),
  "sk-proj- repeated": fill("sk-proj-"),
  "Slack webhook host, repeated": fill("https://hooks.slack.com/services/"),
  "one letter": run(MEBIBYTE, "a"),
  blanks: run(MEBIBYTE, " "),
  "equals signs": run(MEBIBYTE, "="),
  colons: run(MEBIBYTE, ":"),
  "double quotes": run(MEBIBYTE, '"'),
  backslashes: run(MEBIBYTE, "\\"),
};

/**
 * The fastest of three interleaved runs of each: the minimum is the run the
 * machine's other work disturbed least, and interleaving exposes both sides to
 * the same load.
 */
function fastestMs(baseline: () => unknown, ours: () => unknown): [number, number] {
  let fastestBaseline = Number.POSITIVE_INFINITY;
  let fastestOurs = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    let started = performance.now();
    baseline();
    fastestBaseline = Math.min(fastestBaseline, performance.now() - started);
    started = performance.now();
    ours();
    fastestOurs = Math.min(fastestOurs, performance.now() - started);
  }
  return [fastestBaseline, fastestOurs];
}

describe("redact() runs in linear time on adversarial input", () => {
  const redactor = new SecretRedactor();

  it.each(Object.entries(ADVERSARIAL))("%s", (_label, input) => {
    expect(input.length).toBeGreaterThanOrEqual(MEBIBYTE);
    // The trivial regex visits every character, in chunks, whatever they are.
    const [baseline, ours] = fastestMs(
      () => input.replace(/[\s\S]{1,16}/g, ""),
      () => redactor.redact(input),
    );
    expect(ours).toBeLessThan(Math.max(baseline, 1) * FACTOR);
  });

  it("gives output proportional to its input (no blow-up of placeholders)", () => {
    const input = ADVERSARIAL['password=" repeated']!;
    expect(redactor.redact(input).length).toBeLessThan(input.length * 3);
  });
});
