import { readAuditRecords } from "@beauvoir/audit-trail";
import type { IdempotencyEntry } from "@beauvoir/idempotency";
import { RECORDED_ERROR_CODES } from "../recorded-verdict.js";
import { CommandUsageError, NotFoundError } from "./cli-io.js";
import type { CommandContext } from "./command-context.js";
import { instanceLockOf, withInstanceLock } from "./data-directory.js";
import { readIndexEntries } from "./index-entries.js";
import { withOperatorSession } from "./operator-session.js";
import { formatTime, printable, printJson, printLines, table } from "./output.js";

/** What `keys list` shows of a key. */
export interface KeyView {
  key: string;
  status: IdempotencyEntry["status"];
  /**
   * For a human: a pending key whose process is gone (the next boot applies
   * its strategy, or `keys resolve` decides), or a failed key whose outcome
   * is unknown (`OUTCOME_UNKNOWN`: it may have happened).
   */
  inDoubt: boolean;
  action: string;
  strategy: IdempotencyEntry["strategy"];
  intentSeq: number;
  createdAt: string;
  updatedAt: string;
  error?: string;
  result?: unknown;
}

const STATUSES = ["pending", "failed", "completed", "in-doubt"] as const;

/** Whether the key needs a human: pending with no live instance, or failed with its outcome unknown. */
export function isInDoubt(entry: IdempotencyEntry, instanceAlive: boolean): boolean {
  if (entry.status === "pending") return !instanceAlive;
  return (
    entry.status === "failed" &&
    (entry.error ?? "").startsWith(`${RECORDED_ERROR_CODES.outcomeUnknown}:`)
  );
}

/** The keys of the data directory's index, oldest change first, read-only. */
export async function listKeys(context: CommandContext): Promise<KeyView[]> {
  const { fs, layout } = context;
  const alive = (await instanceLockOf(fs, layout))?.status === "live";
  const { entries } = await readIndexEntries(fs, layout.idempotencyDir);
  return [...entries.values()]
    .sort((left, right) => left.updatedAt - right.updatedAt || (left.key < right.key ? -1 : 1))
    .map((entry) => viewOf(entry, alive));
}

function viewOf(entry: IdempotencyEntry, alive: boolean): KeyView {
  return {
    key: entry.key,
    status: entry.status,
    inDoubt: isInDoubt(entry, alive),
    action: entry.action,
    strategy: entry.strategy,
    intentSeq: entry.intentSeq,
    createdAt: formatTime(entry.createdAt),
    updatedAt: formatTime(entry.updatedAt),
    ...(entry.error === undefined ? {} : { error: entry.error }),
    ...(entry.result === undefined ? {} : { result: entry.result }),
  };
}

/** `keys list [--status S]`. */
export async function keysList(context: CommandContext): Promise<0> {
  const wanted = context.values.status;
  if (wanted !== undefined && !(STATUSES as readonly string[]).includes(wanted)) {
    throw new CommandUsageError(`--status must be one of ${STATUSES.join(", ")}, got ${wanted}`);
  }
  const keys = (await listKeys(context)).filter(
    (view) =>
      wanted === undefined || (wanted === "in-doubt" ? view.inDoubt : view.status === wanted),
  );
  if (context.values.json) {
    printJson(context.io, keys);
    return 0;
  }
  if (keys.length === 0) {
    printLines(context.io, [`no ${wanted === undefined ? "" : `${wanted} `}keys`]);
    return 0;
  }
  printLines(
    context.io,
    table([
      ["STATUS", "UPDATED", "KEY", "ERROR"],
      ...keys.map((view) => [
        `${view.status}${view.inDoubt ? " (in doubt)" : ""}`,
        view.updatedAt,
        printable(view.key),
        view.error === undefined ? "" : printable(view.error),
      ]),
    ]),
  );
  return 0;
}

/** `keys show <key>`: the entry and the audit records carrying the key. */
export async function keysShow(context: CommandContext): Promise<0> {
  const [key] = context.args;
  const view = (await listKeys(context)).find((candidate) => candidate.key === key);
  if (!view) throw new NotFoundError(`no key ${printable(key)} in the index`);
  const { records } = await readAuditRecords(context.layout.auditDir, { fs: context.fs }).catch(
    () => ({ records: [] }),
  );
  const history = records
    .filter((record) => record.dedupeKey === key || record.target === key)
    .map((record) => ({
      seq: record.seq,
      ts: record.ts,
      phase: record.phase,
      ...(record.intentSeq === undefined ? {} : { intentSeq: record.intentSeq }),
      ...(record.error === undefined ? {} : { error: record.error }),
      ...(record.result === undefined ? {} : { result: record.result }),
    }));
  if (context.values.json) {
    printJson(context.io, { ...view, history });
    return 0;
  }
  const lines = [
    `key:      ${printable(view.key)}`,
    `status:   ${view.status}${view.inDoubt ? " (in doubt: needs a human, see keys resolve)" : ""}`,
    `action:   ${printable(view.action)} (strategy ${view.strategy})`,
    `intent:   seq ${view.intentSeq}`,
    `created:  ${view.createdAt}`,
    `updated:  ${view.updatedAt}`,
  ];
  if (view.error !== undefined) lines.push(`error:    ${printable(view.error)}`);
  if (view.result !== undefined) lines.push(`result:   ${printable(JSON.stringify(view.result))}`);
  lines.push(`audit records: ${history.length}`);
  for (const record of history) {
    const closes = record.intentSeq === undefined ? "" : ` (intent #${record.intentSeq})`;
    const error = record.error === undefined ? "" : ` error: ${printable(record.error)}`;
    lines.push(`  #${record.seq} ${printable(record.ts)} ${record.phase}${closes}${error}`);
  }
  printLines(context.io, lines);
  return 0;
}

/** `keys resolve <key> done|not_done` and `keys reset <key>`: an operator's decision, recorded in the audit trail. */
export async function keysDecide(
  context: CommandContext,
  decision: "done" | "not_done" | "reset",
): Promise<0> {
  const [key] = context.args;
  const reason = context.values.reason;
  const { fs, layout } = context;
  const before = await withInstanceLock(fs, layout, (locks) =>
    withOperatorSession(fs, layout, locks, context.hmacKey(), async ({ index, executor }) => {
      if (!(await index.check(key!)))
        throw new NotFoundError(`no key ${printable(key)} in the index`);
      const options = reason === undefined ? {} : { reason };
      const previous =
        decision === "reset"
          ? await executor.resetKey(key!, options)
          : await executor.resolveKey(key!, decision, options);
      return { previous, after: await index.check(key!) };
    }),
  );
  const was = before.previous?.status ?? "unknown";
  const now = before.after?.status ?? "absent (it may run again)";
  if (context.values.json) {
    printJson(context.io, {
      key,
      decision,
      previousStatus: was,
      status: before.after?.status ?? null,
    });
    return 0;
  }
  printLines(context.io, [
    `${decision === "reset" ? "reset" : `resolved ${decision}`}: ${printable(key)} was ${was}, now ${now}; recorded in the audit trail`,
  ]);
  return 0;
}
