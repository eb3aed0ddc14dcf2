import { rename, rm, writeFile } from "node:fs/promises";
import { readAuditRecords, verifyAuditFile } from "@beauvoir/audit-trail";
import { summarizeVerification, withCompletenessCheck } from "../audit-summary.js";
import { CommandUsageError } from "../cli-io.js";
import type { CommandContext } from "../command-context.js";
import { listKeys } from "../keys-commands.js";
import { printable, printLines } from "../output.js";
import { progressFor } from "../progress.js";
import { renderHtmlReport } from "./html-report.js";
import { buildTimeline } from "./timeline.js";

/** `report --html <file>`: the history as a timeline in one self-contained HTML file. */
export async function report(context: CommandContext): Promise<0 | 1> {
  const file = context.values.html;
  if (!file) throw new CommandUsageError("report needs --html <file>");
  const { layout, fs } = context;
  const hmacKey = context.hmacKey();
  const bar = progressFor(context.io, "verifying the audit chain");
  const verified = await verifyAuditFile(layout.auditDir, {
    fs,
    ...(hmacKey === undefined ? {} : { hmacKey }),
    onProgress: (done, total) => bar.update(done, total),
  }).finally(() => bar.clear());
  const verification = await withCompletenessCheck(
    summarizeVerification(verified, hmacKey !== undefined),
    {
      fs,
      auditDir: layout.auditDir,
      recordsExpected: (await listKeys(context)).length > 0,
    },
  );
  // A history cut to nothing is still reported: an empty timeline under its verdict.
  const { records } = await readAuditRecords(layout.auditDir, { fs }).catch((error: unknown) => {
    if (verification.valid) throw error;
    return { records: [] };
  });
  const steps = buildTimeline(records);
  const html = renderHtmlReport({
    title: "Beauvoir history",
    dataDir: layout.dataDir,
    generatedAt: new Date(context.now()).toISOString(),
    verification,
    steps,
  });
  // Written whole or not at all, readable by its owner only (records are redacted, not public).
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, html, { mode: 0o600, flag: "wx" });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  printLines(context.io, [
    `wrote ${printable(file)}: ${steps.length} step(s) from ${records.length} record(s); the audit chain ${verification.valid ? "verifies" : `is BROKEN (${verification.reason})`}`,
  ]);
  return verification.valid ? 0 : 1;
}
