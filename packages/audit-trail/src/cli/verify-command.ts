import { basename } from "node:path";
import { nodeFileSystem } from "@beauvoir/core";
import { historiesIn } from "../segments.js";
import { type ChainVerification, verifyAuditFile } from "../verify-audit-file.js";
import { UsageError } from "./cli-errors.js";
import { type CliIo, type CliValues, type ExitCode, keyFromEnvironment } from "./cli-io.js";
import { progressBarFor } from "./progress-bar.js";
import { type LocatedHistory, locateHistory, readRecords } from "./read-history.js";
import { jsonForTerminal, printable } from "./terminal-text.js";

/** Why a history whose chain is intact still does not pass `verify`. */
export type VerifyProblemReason = "empty_history" | "missing_current_file" | "head_mismatch";

/** What `verify --json` prints: the verification, failed for one of these too. */
export type VerifyReport = Omit<ChainVerification, "reason"> & {
  reason?: ChainVerification["reason"] | VerifyProblemReason;
  /** The head `--expect-head` asked for, and whether the history holds it. */
  expectedHead?: { seq: number; hash: string; found: boolean };
};

const HEAD = /^(\d+):([0-9a-f]{64})$/;

/** `verify <file|dir>`: exit 0 valid, 1 broken, empty, missing its current file, or not holding the expected head. */
export async function verify(args: string[], values: CliValues, io: CliIo): Promise<ExitCode> {
  if (args.length !== 1) throw new UsageError("verify takes exactly one file or directory");
  const hmacKey = keyFromEnvironment(values, io);
  if (values["require-hmac"] && hmacKey === undefined) {
    throw new UsageError("--require-hmac needs --hmac-key-env");
  }
  const expected = parseExpectedHead(values["expect-head"]);
  const fs = io.fs ?? nodeFileSystem;
  const located = await locateHistory(fs, args[0]!);
  const bar = progressBarFor(io, "verifying");
  const verification = await verifyAuditFile(located.path, {
    fs: io.fs,
    hmacKey,
    requireHmac: values["require-hmac"],
    allBreaks: true,
    onProgress: (done, total) => bar.update(done, total),
  }).finally(() => bar.clear());
  const report: VerifyReport = { ...verification };
  if (report.valid) await findProblem(report, located, expected, values["allow-empty"], io);
  if (values.json) {
    io.stdout.write(`${jsonForTerminal(report)}\n`);
  } else {
    io.stdout.write(describe(report, hmacKey !== undefined));
  }
  return report.valid ? 0 : 1;
}

function parseExpectedHead(text: string | undefined): { seq: number; hash: string } | undefined {
  if (text === undefined) return undefined;
  const match = HEAD.exec(text);
  if (!match || Number(match[1]) < 1) {
    throw new UsageError(
      `--expect-head needs <seq>:<hash> (a seq >= 1 and 64 lowercase hex digits), got ${text}`,
    );
  }
  return { seq: Number(match[1]), hash: match[2]! };
}

/** Marks an intact chain as failed when there is nothing in it, its current file is gone, or it lacks the expected head. */
async function findProblem(
  report: VerifyReport,
  located: LocatedHistory,
  expected: { seq: number; hash: string } | undefined,
  allowEmpty: boolean,
  io: CliIo,
): Promise<void> {
  const fail = (reason: VerifyProblemReason, detail: string, file?: string) => {
    Object.assign(report, { valid: false, reason, detail, ...(file ? { file } : {}) });
  };
  if (located.kind === "directory") {
    for (const layout of historiesIn(located.path, located.names)) {
      if (!located.names.includes(basename(layout.current))) {
        return fail(
          "missing_current_file",
          `the current file ${basename(layout.current)} is missing (deleted, or moved aside): the newest records may be gone`,
          layout.current,
        );
      }
    }
  }
  if (!expected) {
    if (report.records === 0 && !allowEmpty) {
      fail("empty_history", `no records in ${located.path}: there is nothing to verify`);
    }
    return;
  }
  const found = await hashAt(report, expected.seq, io);
  report.expectedHead = { ...expected, found: found === expected.hash };
  if (found === expected.hash) return;
  if (found !== undefined) {
    return fail(
      "head_mismatch",
      `the record at seq ${expected.seq} has hash ${found}, not the expected ${expected.hash}: the history was rewritten`,
    );
  }
  const lastSeq = report.lastSeq ?? 0;
  fail(
    "head_mismatch",
    expected.seq > lastSeq
      ? `the history ends at seq ${lastSeq}, before the expected head at seq ${expected.seq}: records were removed from its end (a truncated or replaced current file)`
      : `seq ${expected.seq} is no longer in the history (pruned): the expected head cannot be checked`,
  );
}

/** The hash of the record at `seq`, from the file of the verified history that holds it. */
async function hashAt(report: VerifyReport, seq: number, io: CliIo): Promise<string | undefined> {
  const segment = report.segments.find(
    (candidate) =>
      candidate.firstSeq !== undefined && candidate.firstSeq <= seq && seq <= candidate.lastSeq!,
  );
  if (!segment) return undefined;
  const { records } = await readRecords(io.fs ?? nodeFileSystem, segment.file);
  return records.find((record) => record.seq === seq)?.hash;
}

function describe(report: VerifyReport, keyed: boolean): string {
  if (report.valid) {
    const hmacNote = keyed ? "HMACs verified" : "HMACs not checked";
    let text = `OK: ${report.records} record(s) in ${report.segments.length} file(s), chain intact (${report.signedRecords} signed, ${hmacNote})\n`;
    if (report.lastSeq !== undefined)
      text += `  head: seq ${report.lastSeq}, hash ${report.lastHash}\n`;
    if (report.expectedHead)
      text += `  holds the expected head at seq ${report.expectedHead.seq}\n`;
    return text;
  }
  if (report.reason === "empty_history") return `EMPTY: ${printable(report.detail)}\n`;
  const at = report.brokenAt === undefined ? "" : ` at seq ${report.brokenAt}`;
  let text = `BROKEN${at} (${report.reason}): ${printable(report.detail)}\n`;
  if (report.file !== undefined) {
    text += `  file: ${printable(report.file)}${report.line === undefined ? "" : `, line ${report.line}`}\n`;
  }
  text += `  ${report.records} record(s) verified before it\n`;
  const more = report.breaks?.slice(1) ?? [];
  if (more.length > 0) {
    text += `  ${more.length}${report.breaksTruncated ? "+" : ""} more break(s) after it:\n`;
    for (const problem of more) {
      const seq = problem.seq === undefined ? "" : `seq ${problem.seq} `;
      text += `  - ${seq}(${problem.reason}): ${printable(problem.detail)}; ${printable(problem.file)} line ${problem.line}\n`;
    }
  }
  if (report.lastSeq !== undefined && report.reason !== "head_mismatch") {
    text += `  last good record: seq ${report.lastSeq}, hash ${report.lastHash}\n`;
  }
  return text;
}
