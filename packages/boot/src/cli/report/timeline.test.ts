import type { AuditRecord } from "@beauvoir/audit-trail";
import { describe, expect, it } from "vitest";
import { escapeHtml, jsonForScript, renderHtmlReport } from "./html-report.js";
import { buildTimeline } from "./timeline.js";

let seq = 0;
const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();

function intent(
  key: string | undefined,
  second: number,
  params: Record<string, unknown> = {},
): AuditRecord {
  seq++;
  return {
    seq,
    prevHash: "",
    hash: "",
    phase: "intent",
    ts: at(second),
    action: key?.split(":")[0] ?? "raw_action",
    target: "acme/widgets/issues/1",
    params,
    ...(key === undefined ? {} : { dedupeKey: key }),
    dryRun: false,
  };
}

function result(
  of: AuditRecord,
  second: number,
  outcome: { error?: string; result?: unknown } = {},
): AuditRecord {
  seq++;
  return {
    seq,
    prevHash: "",
    hash: "",
    phase: "result",
    intentSeq: of.seq,
    ts: at(second),
    action: of.action,
    target: of.target,
    params: {},
    ...(of.dedupeKey === undefined ? {} : { dedupeKey: of.dedupeKey }),
    ...outcome,
    dryRun: false,
  };
}

function other(
  phase: "denied" | "dry_run" | "checkpoint",
  second: number,
  error?: string,
): AuditRecord {
  seq++;
  return {
    seq,
    prevHash: "",
    hash: "",
    phase,
    ts: at(second),
    action: "delete_repo",
    target: "acme/widgets",
    params: {},
    ...(error === undefined ? {} : { error }),
    dryRun: phase === "dry_run",
  };
}

describe("buildTimeline", () => {
  it("makes one step of every attempt of a key, and tells each outcome", () => {
    const retried = intent("add_labels:a", 0);
    const retriedAgain = intent("add_labels:a", 2);
    const failed = intent("create_review:b", 3);
    const notClaimed = intent("add_labels:c", 4);
    const notSent = intent("add_labels:d", 5);
    const open = intent("create_branch:e", 6);
    const raw = intent(undefined, 7);
    const rawAgain = intent(undefined, 8);
    const steps = buildTimeline([
      retried,
      result(retried, 1, { error: "RETRYING: attempt 1 of 3 ambiguous: HTTP 502" }),
      retriedAgain,
      result(retriedAgain, 2, { result: { ok: true } }),
      failed,
      result(failed, 3, { error: "REJECTED: attempt 1 of 3 rejected: HTTP 422" }),
      notClaimed,
      result(notClaimed, 4, { error: "NOT_CLAIMED: the key was completed" }),
      notSent,
      result(notSent, 6, { error: "NOT_SENT: attempt 3 of 3 not sent" }),
      open,
      raw,
      rawAgain,
      result(rawAgain, 9, { error: "Error: boom" }),
      other("denied", 10, "POLICY_DENIED: nope"),
      other("dry_run", 11),
      other("checkpoint", 12),
    ]);
    expect(steps.map((step) => [step.key || step.seq, step.outcome, step.attempts])).toEqual([
      ["add_labels:a", "executed", 2],
      ["create_review:b", "failed", 1],
      ["add_labels:c", "deduplicated", 1],
      ["add_labels:d", "failed", 1],
      ["create_branch:e", "pending", 1],
      [raw.seq, "pending", 1],
      [rawAgain.seq, "failed", 1],
      [expect.any(Number), "denied", 0],
      [expect.any(Number), "dry_run", 0],
    ]);
    expect(steps[0]).toMatchObject({ durationMs: 2_000, error: "" });
    expect(steps[1]!.error).toBe("REJECTED: attempt 1 of 3 rejected: HTTP 422");
    expect(steps[3]).toMatchObject({ durationMs: 1_000 });
    expect(steps[4]).toMatchObject({ durationMs: null });
    expect(steps[7]!.error).toBe("POLICY_DENIED: nope");
  });

  it("marks crashes, hooks and operators", () => {
    const cut = intent("create_branch:x", 0);
    const rerun = intent("create_branch:x", 5);
    const hooked = intent("add_issue_comment:y", 6);
    const skipped = intent("merge_pull_request:z", 7);
    const operator = intent("merge_pull_request:z", 9, {
      operator: { command: "resolveKey", verdict: "done" },
    });
    const reset = intent("add_labels:w", 10);
    const steps = buildTimeline([
      cut,
      result(cut, 5, { error: "ABANDONED: the process stopped" }),
      rerun,
      result(rerun, 5, { result: {} }),
      hooked,
      result(hooked, 8, { result: { $reconciled: "done", by: "hook" } }),
      skipped,
      result(skipped, 8, { error: "OUTCOME_UNKNOWN: cut off while running" }),
      operator,
      result(operator, 9, { result: { $reconciled: "done", by: "operator" } }),
      reset,
      result(reset, 11, { error: "RESET: an operator reset the key" }),
    ]);
    expect(steps.map((step) => [step.key, step.outcome, step.marks])).toEqual([
      [
        "create_branch:x",
        "executed",
        { reconciledByHook: false, operator: false, interrupted: true },
      ],
      [
        "add_issue_comment:y",
        "reconciled",
        { reconciledByHook: true, operator: false, interrupted: false },
      ],
      [
        "merge_pull_request:z",
        "failed",
        { reconciledByHook: false, operator: false, interrupted: true },
      ],
      [
        "merge_pull_request:z",
        "reconciled",
        { reconciledByHook: false, operator: true, interrupted: false },
      ],
      ["add_labels:w", "failed", { reconciledByHook: false, operator: true, interrupted: false }],
    ]);
    expect(steps[3]!.attempts).toBe(0);
  });

  it("escapes control characters and bidirectional overrides of records", () => {
    const hostile = intent("a\u001b[2J:k", 0);
    hostile.target = "\u202eevil\nline";
    const [step] = buildTimeline([hostile, result(hostile, 1, { error: "x\u0007" })]);
    expect(step!.target).toBe("\\u202eevil\\nline");
    expect(step!.action).toBe("a\\x1b[2J");
    expect(step).toMatchObject({ outcome: "failed", error: "x\\x07" });
  });
});

describe("the HTML report's escaping", () => {
  it("leaves no markup from data in the page", () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe(
      "&#60;a href=&#34;x&#34; onclick=&#39;y&#39;&#62;&#38;&#60;/a&#62;",
    );
    const json = jsonForScript({ text: "</script><!-- \u2028 &amp;" });
    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual({ text: "</script><!-- \u2028 &amp;" });
    const page = renderHtmlReport({
      title: "<title>",
      dataDir: "/x/<script>",
      generatedAt: "now",
      verification: {
        valid: false,
        records: 3,
        headSeq: 3,
        headHash: "h",
        reason: "hash_mismatch",
        detail: "<b>bad</b>",
        brokenAt: 4,
        hmacChecked: true,
      },
      steps: [],
    });
    expect(page).toContain(
      "Audit chain BROKEN at seq 4 (hash_mismatch): &#60;b&#62;bad&#60;/b&#62;",
    );
    expect(page).not.toContain("<script>\n</");
    expect(page.match(/<script/g)).toHaveLength(2);
    expect(page).toContain("default-src 'none'");
  });
});
