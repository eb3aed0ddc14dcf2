import { type AuditVerifyReport, readAuditRecords, verifyAuditFile } from "@beauvoir/audit-trail";
import { isErrnoError } from "@beauvoir/core";
import { verifyIdempotencyIndex } from "@beauvoir/idempotency";
import { inspectStore } from "@beauvoir/resilient-store";
import { type LastBootRecord, readLastBootRecord } from "../last-boot.js";
import { RESILIENCE_STATE_STORE } from "../resilience-state.js";
import {
  type AuditSummary,
  summarizeVerification,
  withCompletenessCheck,
} from "./audit-summary.js";
import type { CommandContext } from "./command-context.js";
import { instanceLockOf } from "./data-directory.js";
import { type KeyView, listKeys } from "./keys-commands.js";
import { type LockView, listLockViews } from "./locks-commands.js";
import { formatDuration, formatTime, printable, printJson, printLines } from "./output.js";
import { progressFor } from "./progress.js";
import { inspectStores } from "./store-commands.js";
import { servedFile } from "./store-state.js";

/** What `status --json` prints. */
export interface StatusReport {
  dataDir: string;
  /** Whether an instance holds the data directory now, by its lock and its pid's liveness. */
  instance: { running: boolean; pid?: number; lockStatus?: string; ageMs?: number };
  /** `last-boot.json`: mode, health and reconciliation of the last boot, or null. */
  lastBoot: LastBootRecord | null;
  keys: {
    total: number;
    pending: KeyView[];
    failed: KeyView[];
    inDoubt: KeyView[];
    completed: number;
  };
  index: { intact: boolean; problems: string[] } | null;
  /** Intents with no result: steps that were running (or cut off). */
  openIntents: { seq: number; ts: string; action: string; target: string; dedupeKey?: string }[];
  breakers: { key: string; state: string; retryAt: string | null }[];
  limiterBlocks: { kind: string; until: string }[];
  locks: LockView[];
  stores: {
    name: string;
    primary: string;
    bak: string;
    serves: string | null;
    quarantined: number;
  }[];
  audit: AuditSummary | null;
  /** What needs a human; empty when everything is fine (exit 0). */
  attention: string[];
}

/** `status`: everything an operator wants to know, read-only (works while the instance runs). */
export async function status(context: CommandContext): Promise<0 | 1> {
  const report = await buildStatus(context);
  if (context.values.json) printJson(context.io, report);
  else printLines(context.io, describeStatus(report));
  return report.attention.length === 0 ? 0 : 1;
}

/** Reads every part of the data directory without taking or changing anything. */
export async function buildStatus(context: CommandContext): Promise<StatusReport> {
  const { fs, layout } = context;
  const attention: string[] = [];
  const instanceLock = await instanceLockOf(fs, layout);
  const running = instanceLock?.status === "live";
  const instance: StatusReport["instance"] = {
    running,
    ...(instanceLock
      ? {
          lockStatus: instanceLock.status,
          ageMs: instanceLock.ageMs,
          ...(instanceLock.owner ? { pid: instanceLock.owner.pid } : {}),
        }
      : {}),
  };

  const { record: lastBoot } = await readLastBootRecord({ dataDir: layout.dataDir, fs });
  const aborted = lastBoot?.aborted;
  if (aborted) {
    attention.push(
      `the last boot aborted at ${printable(aborted.step)}: ${printable(aborted.error)}`,
    );
  } else if (lastBoot && lastBoot.mode !== "autonomous") {
    attention.push(`the last boot ran in ${printable(lastBoot.mode)} mode`);
  }

  const keys = await listKeys(context);
  const pending = keys.filter((key) => key.status === "pending");
  const failed = keys.filter((key) => key.status === "failed");
  const inDoubt = keys.filter((key) => key.inDoubt);
  if (inDoubt.length > 0) {
    attention.push(
      `${inDoubt.length} key(s) in doubt: see keys list --status in-doubt, then keys resolve`,
    );
  }
  const failedForGood = failed.filter((key) => !key.inDoubt);
  if (failedForGood.length > 0) attention.push(`${failedForGood.length} failed key(s)`);

  let index: StatusReport["index"] = null;
  try {
    const verified = await verifyIdempotencyIndex({ dir: layout.idempotencyDir, fs });
    index = {
      intact: verified.intact,
      problems: verified.problems.map((problem) => problem.detail),
    };
    if (!verified.intact) attention.push("the idempotency index is damaged: beauvoir-index repair");
  } catch (error) {
    if (!isErrnoError((error as { cause?: unknown }).cause, "ENOENT")) throw error;
  }

  const verified = await verifyHistory(context, running);
  const audit =
    verified &&
    (await withCompletenessCheck(verified, {
      fs,
      auditDir: layout.auditDir,
      recordsExpected: keys.length > 0,
    }));
  if (audit && !audit.valid) attention.push(`the audit chain does not verify (${audit.reason})`);
  const { records } = await readAuditRecords(layout.auditDir, { fs }).catch(() => ({
    records: [],
  }));
  const open = new Map<number, StatusReport["openIntents"][number]>();
  for (const record of records) {
    if (record.phase === "intent") {
      open.set(record.seq, {
        seq: record.seq,
        ts: record.ts,
        action: record.action,
        target: record.target,
        ...(record.dedupeKey === undefined ? {} : { dedupeKey: record.dedupeKey }),
      });
    } else if (record.phase === "result") {
      open.delete(record.intentSeq!);
    }
  }
  if (open.size > 0 && !running) {
    attention.push(`${open.size} open intent(s): the next boot closes or reconciles them`);
  }

  const resilience = await inspectStore({
    path: `${layout.storesDir}/${RESILIENCE_STATE_STORE}.json`,
    fs,
  });
  const saved = servedFile(resilience)?.state as
    | {
        breakers?: Record<string, { state?: string; retryAt?: number | null }>;
        limiterBlocks?: { blocks?: { kind?: string; until?: number }[] } | null;
      }
    | undefined;
  const breakers = Object.entries(saved?.breakers ?? {}).map(([key, snapshot]) => ({
    key,
    state: String(snapshot?.state ?? "?"),
    retryAt: typeof snapshot?.retryAt === "number" ? formatTime(snapshot.retryAt) : null,
  }));
  const limiterBlocks = (saved?.limiterBlocks?.blocks ?? [])
    .filter((block) => typeof block?.until === "number" && block.until > context.now())
    .map((block) => ({ kind: String(block.kind ?? "?"), until: formatTime(block.until) }));

  const locks = await listLockViews(context);
  for (const lock of locks) {
    if (lock.status === "stale")
      attention.push(`lock ${printable(lock.name)} is stale (${lock.staleReason})`);
  }
  const stores = (await inspectStores(context)).map((inspection) => ({
    name: inspection.path.slice(layout.storesDir.length + 1, -".json".length),
    primary: inspection.primary.health,
    bak: inspection.bak.health,
    serves: inspection.current,
    quarantined: inspection.quarantined.length,
  }));
  for (const store of stores) {
    if (store.primary !== "valid" && store.primary !== "unverified") {
      attention.push(
        `store ${printable(store.name)}: primary ${store.primary} (serves ${store.serves ?? "nothing"})`,
      );
    }
  }
  return {
    dataDir: layout.dataDir,
    instance,
    lastBoot,
    keys: {
      total: keys.length,
      pending,
      failed,
      inDoubt,
      completed: keys.length - pending.length - failed.length,
    },
    index,
    openIntents: [...open.values()],
    breakers,
    limiterBlocks,
    locks,
    stores,
    audit,
    attention,
  };
}

/** Verifies the history; while an instance writes, a last line caught half-written is read again. */
async function verifyHistory(
  context: CommandContext,
  running: boolean,
): Promise<StatusReport["audit"]> {
  const hmacKey = context.hmacKey();
  for (let attempt = 1; ; attempt++) {
    const bar = progressFor(context.io, "verifying the audit chain");
    let result: AuditVerifyReport;
    try {
      result = await verifyAuditFile(context.layout.auditDir, {
        fs: context.fs,
        ...(hmacKey === undefined ? {} : { hmacKey }),
        onProgress: (done, total) => bar.update(done, total),
      });
    } catch (error) {
      if (isErrnoError((error as { cause?: unknown }).cause, "ENOENT")) return null;
      throw error;
    } finally {
      bar.clear();
    }
    const torn = result.reason === "malformed_line" && /torn write/.test(result.detail ?? "");
    if (!result.valid && torn && running && attempt < 3) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    return summarizeVerification(result, hmacKey !== undefined);
  }
}

function describeStatus(report: StatusReport): string[] {
  const lines = [`data directory: ${printable(report.dataDir)}`];
  const { instance } = report;
  lines.push(
    instance.running
      ? `instance: running (pid ${instance.pid}, lock renewed ${formatDuration(instance.ageMs ?? Number.NaN)} ago)`
      : `instance: not running${instance.lockStatus ? ` (a ${instance.lockStatus} instance lock is left${instance.pid ? `, pid ${instance.pid}` : ""})` : ""}`,
  );
  const boot = report.lastBoot;
  if (boot) {
    lines.push(
      `last boot: ${printable(boot.bootedAt)} pid ${boot.pid}, mode ${printable(boot.mode)}`,
    );
    const { aborted, reconciliation } = boot;
    if (aborted) lines.push(`  aborted at ${printable(aborted.step)}: ${printable(aborted.error)}`);
    for (const warning of boot.health?.warnings ?? [])
      lines.push(`  warning: ${printable(warning)}`);
    if (reconciliation) {
      const parts = (["promoted", "rerun", "failed", "unresolved", "closedIntents"] as const).map(
        (part) => `${part} ${reconciliation[part]?.length ?? 0}`,
      );
      lines.push(`  reconciliation: ${parts.join(", ")}`);
    }
  } else {
    lines.push("last boot: no record (last-boot.json)");
  }
  const { keys } = report;
  lines.push(
    `keys: ${keys.total} (${keys.completed} completed, ${keys.pending.length} pending, ${keys.failed.length} failed, ${keys.inDoubt.length} in doubt)`,
  );
  for (const key of keys.inDoubt.slice(0, 20)) {
    lines.push(
      `  in doubt: ${printable(key.key)} (${key.status})${key.error ? ` ${printable(key.error)}` : ""}`,
    );
  }
  for (const key of keys.failed.filter((view) => !view.inDoubt).slice(0, 20)) {
    lines.push(`  failed: ${printable(key.key)} ${printable(key.error ?? "")}`);
  }
  if (report.index) {
    lines.push(
      `index: ${report.index.intact ? "intact" : `DAMAGED (${report.index.problems.length} problem(s))`}`,
    );
  }
  lines.push(`open intents: ${report.openIntents.length}`);
  for (const intent of report.openIntents.slice(0, 20)) {
    lines.push(
      `  #${intent.seq} ${printable(intent.ts)} ${printable(intent.action)} ${printable(intent.target)}`,
    );
  }
  lines.push(
    `breakers: ${report.breakers.length === 0 ? "none saved" : report.breakers.map((breaker) => `${printable(breaker.key)} ${breaker.state}${breaker.retryAt ? ` until ${breaker.retryAt}` : ""}`).join(", ")}`,
  );
  lines.push(
    `rate limit: ${report.limiterBlocks.length === 0 ? "not blocked" : report.limiterBlocks.map((block) => `${printable(block.kind)} block until ${block.until}`).join(", ")}`,
  );
  lines.push(`locks: ${report.locks.length}`);
  for (const lock of report.locks) {
    const holder =
      lock.pid === undefined
        ? "no record"
        : `pid ${lock.pid} ${lock.holderAlive ? "alive" : "dead"}`;
    lines.push(
      `  ${printable(lock.name)}: ${lock.status}${lock.staleReason ? ` (${lock.staleReason})` : ""}, ${holder}, age ${formatDuration(lock.ageMs)}`,
    );
  }
  lines.push(`stores: ${report.stores.length}`);
  for (const store of report.stores) {
    lines.push(
      `  ${printable(store.name)}: primary ${store.primary}, bak ${store.bak}, serves ${store.serves ?? "nothing"}${store.quarantined ? `, ${store.quarantined} quarantined` : ""}`,
    );
  }
  const { audit } = report;
  if (audit) {
    const head =
      audit.headSeq === null ? "no records" : `head seq ${audit.headSeq}, hash ${audit.headHash}`;
    lines.push(
      `audit: ${audit.valid ? "verifies" : `BROKEN (${audit.reason}: ${printable(audit.detail ?? "")})`}, ${audit.records} record(s), ${head}${audit.hmacChecked ? "" : " (HMACs not checked)"}`,
    );
  } else {
    lines.push("audit: no history");
  }
  lines.push(report.attention.length === 0 ? "attention: nothing" : "attention:");
  for (const item of report.attention) lines.push(`  - ${item}`);
  return lines;
}
