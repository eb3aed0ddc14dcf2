import { verifyAuditFile } from "../verify-audit-file.js";
import { type CliIo, type CliValues, type ExitCode, keyFromEnvironment } from "./cli-io.js";
import { ProgressBar } from "./progress-bar.js";
import { UsageError } from "./read-history.js";
import { jsonForTerminal, printable } from "./terminal-text.js";

const DEFAULT_PROGRESS_THRESHOLD = 8 * 1024 * 1024;

/** `verify <file|dir>`: exit 0 valid, 1 broken. */
export async function verify(args: string[], values: CliValues, io: CliIo): Promise<ExitCode> {
  if (args.length !== 1) throw new UsageError("verify takes exactly one file or directory");
  const path = args[0]!;
  const hmacKey = keyFromEnvironment(values, io);
  if (values["require-hmac"] && hmacKey === undefined) {
    throw new UsageError("--require-hmac needs --hmac-key-env");
  }
  const bar = new ProgressBar(
    io.stderr,
    "verifying",
    io.progressThresholdBytes ?? DEFAULT_PROGRESS_THRESHOLD,
  );
  const result = await verifyAuditFile(path, {
    fs: io.fs,
    hmacKey,
    requireHmac: values["require-hmac"],
    onProgress: (done, total) => bar.update(done, total),
  }).finally(() => bar.clear());
  if (values.json) {
    io.stdout.write(`${jsonForTerminal(result)}\n`);
  } else if (result.valid) {
    const hmacNote = hmacKey === undefined ? "HMACs not checked" : "HMACs verified";
    io.stdout.write(
      `OK: ${result.records} record(s) in ${result.segments.length} file(s), chain intact (${result.signedRecords} signed, ${hmacNote})\n`,
    );
  } else {
    const at = result.brokenAt === undefined ? "" : ` at seq ${result.brokenAt}`;
    io.stdout.write(
      `BROKEN${at} (${result.reason}): ${printable(result.detail)}\n  file: ${printable(result.file)}, line ${result.line}\n  ${result.records} record(s) verified before it\n`,
    );
  }
  return result.valid ? 0 : 1;
}
