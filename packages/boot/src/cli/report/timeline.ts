import type { AuditRecord } from "@beauvoir/audit-trail";
import { escapeControlCharacters } from "@beauvoir/core";
import { RECORDED_ERROR_CODES } from "../../recorded-verdict.js";

/** How a step of the timeline ended. */
export type TimelineOutcome =
  | "executed"
  | "deduplicated"
  | "reconciled"
  | "failed"
  | "denied"
  | "dry_run"
  | "pending";

/** The outcomes, in the order the report lists them. */
export const TIMELINE_OUTCOMES: readonly TimelineOutcome[] = Object.freeze([
  "executed",
  "deduplicated",
  "reconciled",
  "failed",
  "denied",
  "dry_run",
  "pending",
]);

/** What a step went through, besides its outcome. */
export interface TimelineMarks {
  /** A reconcile hook said it happened. */
  reconciledByHook: boolean;
  /** An operator decided (`keys resolve`, `keys reset`). */
  operator: boolean;
  /** An attempt was cut off by a crash or a stop (`ABANDONED`, `SUPERSEDED`, an unknown outcome). */
  interrupted: boolean;
}

/** One row of the timeline: a step (every attempt of one key until it ended), a denial or a dry run. */
export interface TimelineStep {
  /** The seq of its first record. */
  seq: number;
  /** Its first record's time, epoch ms. */
  startMs: number;
  /** From its first record to its last; `null` while it has not ended. */
  durationMs: number | null;
  outcome: TimelineOutcome;
  action: string;
  target: string;
  /** The idempotency key, when it had one. */
  key: string;
  /** Attempts (intents), the operator's own records not counted. */
  attempts: number;
  /** The last error recorded for it. */
  error: string;
  marks: TimelineMarks;
}

/** Errors after which the key may run again: the step goes on with a later attempt. */
const CONTINUING = new Set<string>([
  RECORDED_ERROR_CODES.retrying,
  RECORDED_ERROR_CODES.abandoned,
  RECORDED_ERROR_CODES.superseded,
  RECORDED_ERROR_CODES.reset,
  RECORDED_ERROR_CODES.notDone,
]);
const INTERRUPTED = new Set<string>([
  RECORDED_ERROR_CODES.abandoned,
  RECORDED_ERROR_CODES.superseded,
]);
const OPERATOR = new Set<string>([RECORDED_ERROR_CODES.reset, RECORDED_ERROR_CODES.notDone]);

interface OpenStep extends TimelineStep {
  /** The last attempt ended with an error that leaves the key runnable. */
  runnable: boolean;
  /** Time of its last record. */
  lastMs: number;
  ended: boolean;
}

/**
 * Turns the records of a history into the steps of a timeline: the intents
 * and results carrying one key, until a result ends it (a success, a
 * reconciliation, a terminal error, a refused claim), are one step; a denial
 * and a dry run are steps of their own. A step whose last attempt left its
 * key runnable (attempts ran out, an operator reset it) and that nothing
 * followed is `failed`; one whose last intent has no result is `pending`.
 * Every text is escaped (control characters, bidirectional overrides).
 * @param records - the records, in seq order.
 * @returns the steps, in the order they started.
 */
export function buildTimeline(records: Iterable<AuditRecord>): TimelineStep[] {
  const steps: OpenStep[] = [];
  const openByKey = new Map<string, OpenStep>();
  const byIntent = new Map<number, OpenStep>();
  for (const record of records) {
    const ms = Date.parse(record.ts);
    if (record.phase === "intent") {
      const key = typeof record.dedupeKey === "string" ? record.dedupeKey : `#${record.seq}`;
      let step = openByKey.get(key);
      if (!step) {
        step = {
          seq: record.seq,
          startMs: ms,
          durationMs: null,
          outcome: "pending",
          action: text(record.action),
          target: text(record.target),
          key: typeof record.dedupeKey === "string" ? text(record.dedupeKey) : "",
          attempts: 0,
          error: "",
          marks: { reconciledByHook: false, operator: false, interrupted: false },
          runnable: false,
          lastMs: ms,
          ended: false,
        };
        steps.push(step);
        openByKey.set(key, step);
      }
      if (isOperatorIntent(record)) step.marks.operator = true;
      else step.attempts++;
      step.runnable = false;
      step.lastMs = ms;
      byIntent.set(record.seq, step);
    } else if (record.phase === "result") {
      const step = byIntent.get(record.intentSeq!);
      if (!step) continue;
      byIntent.delete(record.intentSeq!);
      step.lastMs = ms;
      settle(step, record);
      if (step.ended) openByKey.delete(openKeyOf(step, record));
    } else if (record.phase === "denied" || record.phase === "dry_run") {
      steps.push({
        seq: record.seq,
        startMs: ms,
        durationMs: 0,
        outcome: record.phase === "denied" ? "denied" : "dry_run",
        action: text(record.action),
        target: text(record.target),
        key: typeof record.dedupeKey === "string" ? text(record.dedupeKey) : "",
        attempts: 0,
        error: record.error === undefined ? "" : text(record.error),
        marks: { reconciledByHook: false, operator: false, interrupted: false },
        runnable: false,
        lastMs: ms,
        ended: true,
      });
    }
  }
  return steps.map(({ runnable, lastMs, ended, ...step }) => {
    if (!ended) {
      step.outcome = runnable ? "failed" : "pending";
      if (runnable) step.durationMs = lastMs - step.startMs;
    }
    return step;
  });
}

function openKeyOf(step: OpenStep, record: AuditRecord): string {
  return typeof record.dedupeKey === "string" ? record.dedupeKey : `#${step.seq}`;
}

function settle(step: OpenStep, record: AuditRecord): void {
  const end = () => {
    step.ended = true;
    step.durationMs = step.lastMs - step.startMs;
  };
  if (record.error === undefined) {
    // An earlier attempt's error is not the step's: its marks say what it went through.
    step.error = "";
    const marker = record.result as { $reconciled?: unknown; by?: unknown } | undefined;
    if (marker?.$reconciled === "done") {
      step.outcome = "reconciled";
      if (marker.by === "operator") step.marks.operator = true;
      else step.marks.reconciledByHook = true;
    } else {
      step.outcome = "executed";
    }
    end();
    return;
  }
  step.error = text(record.error);
  const code = record.error.slice(0, Math.max(0, record.error.indexOf(":")));
  if (INTERRUPTED.has(code)) step.marks.interrupted = true;
  if (OPERATOR.has(code)) step.marks.operator = true;
  if (CONTINUING.has(code)) {
    step.runnable = true;
    return;
  }
  if (code === RECORDED_ERROR_CODES.notClaimed) {
    step.outcome = "deduplicated";
  } else {
    step.outcome = "failed";
    if (code === RECORDED_ERROR_CODES.outcomeUnknown) step.marks.interrupted = true;
  }
  end();
}

function isOperatorIntent(record: AuditRecord): boolean {
  const operator = (record.params as { operator?: unknown } | undefined)?.operator;
  return typeof operator === "object" && operator !== null;
}

function text(value: unknown): string {
  return escapeControlCharacters(typeof value === "string" ? value : String(value));
}
