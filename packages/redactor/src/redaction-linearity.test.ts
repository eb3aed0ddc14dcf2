import { describe, expect, it } from "vitest";
import { body, fake } from "./__fixtures__/fake-secrets.js";
import { cpuMs, growthRatio, LINEAR_GROWTH_LIMIT } from "./__fixtures__/linear-growth.js";
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
 * Inputs aimed at the patterns added for the stateless token, escapes,
 * encodings, URL passwords and the newer families. Some of them are dense
 * with matches (a placeholder every seven characters), which costs more per
 * character than a trivial expression by a constant factor; what they must
 * show is linear growth.
 */
const ADVERSARIAL_FOR_NEW_PATTERNS: Readonly<Record<string, string>> = {
  "ghs_ with a stateless body one character short": fill(`ghs_${body(35, "abc._-")} `),
  "ghs_<id>_eyJ repeated": fill("ghs_1_eyJ"),
  "_eyJ repeated": fill("_eyJ"),
  "-eyJ repeated": fill("a-eyJ"),
  "_eyJ then a run of header characters": fill(`x_eyJ${body(300, "abcdef")}`),
  "escaped newlines before eyJ": fill("\\neyJabcd"),
  "%3D before eyJ, repeated": fill("%3DeyJabcd."),
  "escaped newlines before ghp_": fill(`\\nghp_${body(20)}`),
  "\\u0022 before tokens": fill(`\\u0022ghp_${body(10)}`),
  "backslash runs before a quote after a key": fill('token\\\\\\\\\\"'),
  "https://oauth2: then a long password with @ and /, no host end": `https://oauth2:${fill("a@b/")}`,
  "://u:p@ repeated": fill("://u:p@"),
  "://u:p@h@ repeated": fill("://u:p@h@"),
  "user part with @ repeated, no colon": fill("://a@b"),
  "percent-encoded userinfo repeated": fill("%3A%2F%2Fu%3Ap%40"),
  "percent-encoded scheme repeated": fill("%3A%2F%2F"),
  "v1. with 39 hex digits": fill(`v1.${body(39, "0123456789abcdef")} `),
  "glpat- repeated": fill("glpat-"),
  "gitlab prefixes glued": fill("glpat-glrt-gldt-"),
  "SG. repeated": fill("SG."),
  "ya29. repeated": fill("ya29."),
  "hf_ repeated": fill("hf_"),
  "dop_v1_ repeated": fill("dop_v1_"),
  "shpat_ repeated": fill("shpat_"),
  "pypi- prefix repeated": fill("pypi-AgEIcHlwaS5vcmc"),
  "AccountKey= repeated": fill("AccountKey="),
  "_auth= repeated": fill("_auth="),
  '"auth":" repeated': fill('"auth":"'),
  "Authorization: Bearer -----BEGIN repeated": fill("Authorization: Bearer -----BEGIN"),
  "password: and prose, repeated": fill("password: must contain "),
  "token = and a long property path": `token = ${fill("abc.")}`,
  "token = and a long call": `token = ${fill("abcd")}(`,
  "Cookie: and a long line without =": `Cookie: ${fill("abc ")}`,
  "Cookie: repeated on one line": fill("Cookie: "),
  "Bearer%20 repeated": fill("Bearer%20"),
  "placeholders repeated": fill("[REDACTED:token]"),
  "placeholders after key names, repeated": fill("token=[REDACTED:token]"),
  "stateless tokens glued": fill(fake.githubAppStateless),
  "PEM blocks glued to Google keys": fill(`${fake.pem}${fake.google}`),
};

/**
 * The fastest of three interleaved runs of each, in CPU time of this process:
 * the minimum is the run the machine's other work disturbed least,
 * interleaving exposes both sides to the same load, and CPU time leaves out
 * the moments the process waited for a core (the machine is shared).
 */
function fastestMs(baseline: () => unknown, ours: () => unknown): [number, number] {
  let fastestBaseline = Number.POSITIVE_INFINITY;
  let fastestOurs = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    let started = cpuMs();
    baseline();
    fastestBaseline = Math.min(fastestBaseline, cpuMs() - started);
    started = cpuMs();
    ours();
    fastestOurs = Math.min(fastestOurs, cpuMs() - started);
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

  it.each(Object.entries({ ...ADVERSARIAL, ...ADVERSARIAL_FOR_NEW_PATTERNS }))(
    "%s: four times the input takes about four times as long",
    (_label, input) => {
      const unitOf = (size: number) => input.slice(0, size);
      const ratio = growthRatio(unitOf, (text) => redactor.redact(text), input.length / 8, 4);
      expect(ratio).toBeLessThan(LINEAR_GROWTH_LIMIT);
    },
  );

  it("gives output proportional to its input (no blow-up of placeholders)", () => {
    const input = ADVERSARIAL['password=" repeated']!;
    expect(redactor.redact(input).length).toBeLessThan(input.length * 3);
  });
});
