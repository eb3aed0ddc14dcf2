import { BUILT_IN_SECRET_PATTERNS, SecretRedactor } from "@beauvoir/redactor";
import slowRedact from "@pinojs/redact";
import fastRedact from "fast-redact";
import { type BenchRow, compare, measured } from "../harness.js";

const MEBIBYTE = 1024 * 1024;
const LOG_SIZE = 5 * MEBIBYTE;

/**
 * The plain redactor the plan describes: its six families (GitHub
 * fine-grained and classic PATs, `ghs_`, `gho_`, AWS key ids and a generic
 * API key), each one global `String.replace` after the other.
 */
const PLAN_FAMILIES: readonly (readonly [RegExp, string])[] = [
  [/github_pat_[A-Za-z0-9_]{82}/g, "[REDACTED:github-pat]"],
  [/ghp_[A-Za-z0-9]{36}/g, "[REDACTED:github-pat]"],
  [/ghs_[A-Za-z0-9]{36}/g, "[REDACTED:github-app]"],
  [/gho_[A-Za-z0-9]{36}/g, "[REDACTED:github-oauth]"],
  [/AKIA[0-9A-Z]{16}/g, "[REDACTED:aws-key]"],
  [/(api[_-]?key["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi, "$1[REDACTED:api-key]"],
];

/**
 * Reads one character from the middle of a result, so both sides hand back
 * a string ready to use: a string built by concatenation is flattened here,
 * not later by whoever writes it out.
 */
const use = (text: string): number => text.charCodeAt(text.length >> 1);

/** {@link PLAN_FAMILIES} applied to `text`, one independent replace per family. */
function planRedact(text: string): string {
  let result = text;
  for (const [pattern, replacement] of PLAN_FAMILIES) result = result.replace(pattern, replacement);
  return result;
}

// Fake credentials built at run time (no literal token in the sources).
const cycle = (length: number, alphabet: string, offset = 0): string =>
  Array.from({ length }, (_, index) => alphabet[(index + offset) % alphabet.length]).join("");
const BASE62 = "A1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvWxYz";
const githubToken = (offset: number) => `ghp_${cycle(36, BASE62, offset)}`;

/**
 * A realistic service log: HTTP access lines, git and queue activity, prose,
 * stack traces, about 1 line in 200 carrying a secret in a typical spot.
 */
function realisticLog(size: number): string {
  const ordinary = [
    (index: number) =>
      `2025-01-01T10:00:${String(index % 60).padStart(2, "0")}.000Z INFO [http] GET /api/v1/repos/acme/widgets/issues?page=${index % 9}&per_page=50 200 ${index % 300}ms ua="Mozilla/5.0 (X11; Linux x86_64)" req=4f1c2a3b-1234-4cde-9abc-${String(index).padStart(12, "0")}`,
    (index: number) =>
      `2025-01-01T10:00:01.001Z DEBUG [git] fetched ${cycle(40, "0123456789abcdef", index)} from origin/main in ${index % 500}ms`,
    (index: number) =>
      `2025-01-01T10:00:02.002Z WARN [queue] job ${index} retry attempt=${index % 5} delay=2000ms reason="ECONNRESET" queue=mail max_tokens=1024`,
    (index: number) =>
      `2025-01-01T10:00:03.003Z INFO [agent] issue #${index}: "Button does not render in Safari when the token list is empty" labels=bug,ui`,
    () =>
      `2025-01-01T10:00:04.004Z ERROR [worker] Error: connect ECONNREFUSED 127.0.0.1:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)`,
  ];
  const secretLines = [
    (index: number) =>
      `2025-01-01T10:00:05.005Z DEBUG [github] Authorization: token ${githubToken(index)}`,
    () =>
      `2025-01-01T10:00:05.006Z INFO [db] connecting to postgres://app:hunter2@db.internal:5432/main`,
    (index: number) =>
      `2025-01-01T10:00:05.007Z DEBUG [oauth] POST /token client_secret=s3cr3t${index}&grant_type=refresh_token`,
    () => `2025-01-01T10:00:05.008Z WARN [aws] using AKIAIOSFODNN7EXAMPLE from environment`,
  ];
  const lines: string[] = [];
  let length = 0;
  for (let index = 0; length < size; index++) {
    const line =
      index % 200 === 199
        ? secretLines[((index / 200) % secretLines.length) | 0]!(index)
        : ordinary[index % ordinary.length]!(index);
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join("\n");
}

/** A typical outgoing API request as a service would log it. */
function requestObject(index: number) {
  return {
    method: "POST",
    url: `https://api.github.com/repos/acme/widgets/issues/${index}/comments?per_page=50`,
    headers: {
      authorization: `token ${githubToken(index)}`,
      accept: "application/vnd.github+json",
      "content-type": "application/json",
      "user-agent": "beauvoir-agent/1.0 (+https://example.com)",
      "x-github-api-version": "2022-11-28",
      cookie: `session=${cycle(24, BASE62, index)}`,
    },
    body: {
      body: "Thanks for the report! Closing as a duplicate of #12; see the discussion there.",
      labels: ["bug", "triage", "needs-repro"],
    },
    user: { login: "octocat", id: 583231 + index, password: "hunter2" },
    attempt: index % 3,
    startedAt: "2025-01-01T10:00:00.000Z",
  };
}

/**
 * Milliseconds of CPU this process has used. On a machine shared with other
 * work, wall time also counts the moments the process waited for a core,
 * which land on whichever side happened to run; CPU time counts only the
 * work done (including the collector's threads).
 */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Times `runs` calls of each side, in alternating blocks of a few calls, and
 * returns the median CPU ms of each. Blocks rather than single calls: each
 * side then mostly pays for the collection of its own garbage (the plan's
 * replaces leave two 5 MiB strings per call, which would otherwise be
 * collected during the other side's timing), while alternating still exposes
 * both to the same load.
 */
function interleavedMedians(
  ours: () => unknown,
  peer: () => unknown,
  runs: number,
): [number, number] {
  const oursTimes: number[] = [];
  const peerTimes: number[] = [];
  // Warm-up: let the JIT compile both sides (and the regular expressions
  // tier up to native code) before anything is timed.
  for (let round = 0; round < 3; round++) {
    ours();
    peer();
  }
  const block = (side: () => unknown, times: number[], count: number) => {
    side(); // the first call of a block may still collect the other side's garbage
    for (let call = 0; call < count; call++) {
      const started = cpuMs();
      side();
      times.push(cpuMs() - started);
    }
  };
  for (let done = 0; done < runs; done += BLOCK) {
    const count = Math.min(BLOCK, runs - done);
    block(ours, oursTimes, count);
    block(peer, peerTimes, count);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return [median(oursTimes), median(peerTimes)];
}

/** Calls of one side timed in a row before the other side's turn. */
const BLOCK = 4;
/**
 * Repetitions of the rows against the plan's replaces, which carry a
 * target: set `BEAUVOIR_BENCH_REPETITIONS` for more on a noisy machine.
 */
const PLAN_REPETITIONS = Math.max(1, Number(process.env.BEAUVOIR_BENCH_REPETITIONS) || 5);

/**
 * `redact()` over a 5 MiB log, whole and line by line, against two plain
 * redactors: the plan's six families as six independent global replaces, and
 * one `String.prototype.replace` with a single alternation of our own
 * patterns (the naive engine, which also replaces whole matches and so loses
 * the key names). Then `redactAny()` over request objects against
 * fast-redact and @pinojs/redact set up with the paths of the secrets in
 * those objects.
 */
export default async function redactorSuite(): Promise<BenchRow[]> {
  const redactor = new SecretRedactor();
  const naive = new RegExp(
    BUILT_IN_SECRET_PATTERNS.map(
      ({ pattern }) => `(?:${pattern.source.replaceAll("(?<secret>", "(?:")})`,
    ).join("|"),
    "g",
  );
  const text = realisticLog(LOG_SIZE);
  const megabytes = text.length / MEBIBYTE;
  const lines = text.split("\n");
  const wholeCase = `redact() of a ${megabytes.toFixed(0)} MiB log, secrets on 1 line in 200`;
  const perLineCase = `redact() line by line (${lines.length} lines, as the logger calls it)`;
  const planLabel = "the plan's six families, six global replaces";
  const naiveLabel = "one String.replace, combined alternation";
  const familiesNote = `${BUILT_IN_SECRET_PATTERNS.length} families against 6; ours keeps key names and types each placeholder`;

  /**
   * One row: `ours` and `peer` timed interleaved over the log, as MB/s.
   * The measurement is repeated `repetitions` times; the row reports the
   * repetition with the median ratio (one load spike on a shared machine
   * moves one repetition, not the verdict) and the range in its note.
   */
  const throughput = (
    caseName: string,
    peerLabel: string,
    ours: () => unknown,
    peer: () => unknown,
    runs: number,
    repetitions: number,
    extra: Pick<BenchRow, "target" | "note">,
  ): BenchRow => {
    const measurements = Array.from({ length: repetitions }, () =>
      interleavedMedians(ours, peer, runs),
    ).sort(([oursA, peerA], [oursB, peerB]) => peerA / oursA - peerB / oursB);
    const [oursMs, peerMs] = measurements[Math.floor(repetitions / 2)]!;
    const ratios = measurements.map(([oursTime, peerTime]) => peerTime / oursTime);
    const spread =
      repetitions > 1
        ? `median of ${repetitions} repetitions (each the median of ${runs} calls per side), ratios ${ratios[0]!.toFixed(2)}–${ratios[repetitions - 1]!.toFixed(2)}`
        : `median of ${runs} calls per side`;
    return measured({
      suite: "redactor",
      case: caseName,
      unit: "MB/s",
      ours: { label: "@beauvoir/redactor", value: megabytes / (oursMs / 1000) },
      peer: { label: peerLabel, value: megabytes / (peerMs / 1000) },
      value: peerMs / oursMs,
      target: extra.target,
      note: extra.note ? `${extra.note}; ${spread}` : spread,
    });
  };
  const eachLine = (redact: (line: string) => string) => () => {
    for (const line of lines) use(redact(line));
  };
  const naiveRedact = (line: string) => line.replace(naive, "[REDACTED]");

  // Warm-up for every row: a bot redacts all day, so what counts is the code
  // the JIT has optimised, not the first calls. Every line once, and the whole
  // log a few times, on both sides.
  for (const line of lines) {
    redactor.redact(line);
    planRedact(line);
  }
  for (let round = 0; round < 5; round++) {
    use(redactor.redact(text));
    use(planRedact(text));
  }

  const versusPlan = throughput(
    wholeCase,
    planLabel,
    () => use(redactor.redact(text)),
    () => use(planRedact(text)),
    21,
    PLAN_REPETITIONS,
    { target: { atLeast: 1 }, note: familiesNote },
  );
  const versusPlanPerLine = throughput(
    perLineCase,
    planLabel,
    eachLine((line) => redactor.redact(line)),
    eachLine(planRedact),
    9,
    PLAN_REPETITIONS,
    { target: { atLeast: 1 }, note: familiesNote },
  );
  const wholeText = throughput(
    wholeCase,
    naiveLabel,
    () => use(redactor.redact(text)),
    () => use(naiveRedact(text)),
    7,
    1,
    { note: "same patterns; ours keeps key names and types each placeholder" },
  );
  const perLine = throughput(
    perLineCase,
    naiveLabel,
    eachLine((line) => redactor.redact(line)),
    eachLine(naiveRedact),
    5,
    1,
    {},
  );

  const requests = Array.from({ length: 16 }, (_, index) => requestObject(index));
  const paths = [
    "headers.authorization",
    "headers.cookie",
    'headers["x-api-key"]',
    'headers["x-github-token"]',
    "user.password",
  ];
  const fast = fastRedact({ paths, censor: "[REDACTED]" });
  const slow = slowRedact({ paths, censor: "[REDACTED]" });
  let next = 0;
  const request = () => requests[next++ & 15]!;
  const pathNote = "peers redact only the configured paths; ours scans every key and string";
  const versusFastRedact = await compare({
    suite: "redactor",
    case: "request object to redacted JSON",
    ours: {
      label: "redactAny + JSON.stringify",
      op: () => JSON.stringify(redactor.redactAny(request())),
    },
    peer: { label: "fast-redact, 5 paths", op: () => fast(request()) },
    note: pathNote,
  });
  const versusPinoRedact = await compare({
    suite: "redactor",
    case: "request object to redacted JSON",
    ours: {
      label: "redactAny + JSON.stringify",
      op: () => JSON.stringify(redactor.redactAny(request())),
    },
    peer: { label: "@pinojs/redact, 5 paths", op: () => slow(request()) },
    note: pathNote,
  });
  return [versusPlan, versusPlanPerLine, wholeText, perLine, versusFastRedact, versusPinoRedact];
}
