import { escapeControlCharacters } from "@beauvoir/core";
import type { AuditSummary } from "../audit-summary.js";
import { TIMELINE_OUTCOMES, type TimelineStep } from "./timeline.js";

/** What the top of the report says about the audit chain. */
export type ReportVerification = AuditSummary;

/** What the report is made of. */
export interface HtmlReportInput {
  title: string;
  dataDir: string;
  generatedAt: string;
  verification: ReportVerification;
  steps: readonly TimelineStep[];
}

/**
 * Text for HTML: `&`, `<`, `>`, `"` and `'` as entities, control characters
 * as visible escapes. Everything from the data directory goes through this
 * (or into the JSON block, see {@link jsonForScript}).
 */
export function escapeHtml(value: unknown): string {
  return escapeControlCharacters(String(value)).replace(
    /[&<>"']/g,
    (character) => `&#${character.charCodeAt(0)};`,
  );
}

/**
 * JSON that can sit inside a `<script type="application/json">` element:
 * `<`, `>` and `&` written as `\u003c`… so no text in it can close the
 * element or open a comment; U+2028/2029 escaped too. It parses to the same value.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The rows in columns, strings shared through tables, so that 100,000 steps
 * stay a few megabytes: `[seq, startMs, durationMs (-1: none), outcome index,
 * action index, target, attempts, error, marks (1 hook, 2 operator, 4
 * interrupted), key]`.
 */
function packRows(steps: readonly TimelineStep[]): { actions: string[]; rows: unknown[][] } {
  const actions: string[] = [];
  const actionIndex = new Map<string, number>();
  const rows = steps.map((step) => {
    let action = actionIndex.get(step.action);
    if (action === undefined) {
      action = actions.push(step.action) - 1;
      actionIndex.set(step.action, action);
    }
    const marks =
      (step.marks.reconciledByHook ? 1 : 0) |
      (step.marks.operator ? 2 : 0) |
      (step.marks.interrupted ? 4 : 0);
    return [
      step.seq,
      step.startMs,
      step.durationMs ?? -1,
      TIMELINE_OUTCOMES.indexOf(step.outcome),
      action,
      step.target,
      step.attempts,
      step.error,
      marks,
      step.key,
    ];
  });
  return { actions, rows };
}

function verificationBanner(verification: ReportVerification): string {
  const hmac = verification.hmacChecked ? "HMACs verified" : "HMACs not checked";
  if (verification.valid) {
    const head =
      verification.headSeq === null
        ? "no records"
        : `head seq ${verification.headSeq}, hash ${escapeHtml(verification.headHash)}`;
    return `<div id="verification" class="ok" data-valid="true">Audit chain verifies: ${verification.records} record(s), ${head} (${hmac})</div>`;
  }
  const at = verification.brokenAt === undefined ? "" : ` at seq ${verification.brokenAt}`;
  return `<div id="verification" class="broken" data-valid="false">Audit chain BROKEN${at} (${escapeHtml(verification.reason ?? "")}): ${escapeHtml(verification.detail ?? "")}; ${verification.records} record(s) verified before it (${hmac})</div>`;
}

/**
 * One self-contained HTML page: inline CSS and script, the data as JSON in
 * the page, no request to anything (its Content-Security-Policy allows none).
 * Rows are drawn as they scroll into view, so 100,000 steps stay fast.
 */
export function renderHtmlReport(input: HtmlReportInput): string {
  const { actions, rows } = packRows(input.steps);
  const data = jsonForScript({ outcomes: TIMELINE_OUTCOMES, actions, rows });
  const outcomeBoxes = TIMELINE_OUTCOMES.map(
    (outcome) =>
      `<label class="outcome-${outcome}"><input type="checkbox" name="outcome" value="${outcome}" checked> ${outcome.replace("_", " ")} <span class="count" data-count="${outcome}"></span></label>`,
  ).join("\n      ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>
  :root { --row: 26px; font: 13px/1.4 system-ui, sans-serif; color: #1d2330; }
  body { margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { padding: 10px 16px 6px; border-bottom: 1px solid #d8dce4; }
  h1 { font-size: 16px; margin: 0 0 4px; }
  .meta { color: #5b6475; font-size: 12px; }
  #verification { margin: 8px 0 4px; padding: 6px 10px; border-radius: 4px; font-weight: 600; }
  #verification.ok { background: #e3f5e8; color: #17602e; }
  #verification.broken { background: #fbe4e4; color: #8a1c1c; }
  form { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; padding: 6px 16px; border-bottom: 1px solid #d8dce4; background: #f7f8fa; }
  form label { white-space: nowrap; }
  .count { color: #5b6475; }
  #table { flex: 1; display: flex; flex-direction: column; min-height: 0; }
  .cols, .row { display: grid; grid-template-columns: 70px 190px 80px 110px 170px minmax(160px, 1.2fr) 70px minmax(200px, 2fr); gap: 8px; padding: 0 16px; align-items: center; }
  .cols { font-weight: 600; background: #eef0f4; height: var(--row); border-bottom: 1px solid #d8dce4; }
  #viewport { flex: 1; overflow-y: auto; position: relative; }
  #spacer { position: relative; }
  .row { position: absolute; left: 0; right: 0; height: var(--row); border-bottom: 1px solid #eef0f4; }
  .row > span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; font-weight: 600; }
  .o-executed { background: #e3f5e8; color: #17602e; }
  .o-deduplicated { background: #e6eefc; color: #1f4c9c; }
  .o-reconciled { background: #efe6fb; color: #5b2a9c; }
  .o-failed { background: #fbe4e4; color: #8a1c1c; }
  .o-denied { background: #fdf0dc; color: #8a5200; }
  .o-dry_run { background: #eef0f4; color: #5b6475; }
  .o-pending { background: #fff7cc; color: #6e5b00; }
  .mark { margin-left: 4px; font-size: 11px; color: #5b2a9c; }
  .error { color: #8a1c1c; }
  #empty { padding: 16px; color: #5b6475; display: none; }
</style>
</head>
<body>
<header>
  <h1>${escapeHtml(input.title)}</h1>
  <div class="meta">Data directory ${escapeHtml(input.dataDir)}, generated ${escapeHtml(input.generatedAt)}, <span id="total"></span> step(s), <span id="shown-count"></span> shown</div>
  ${verificationBanner(input.verification)}
</header>
<form id="filters" autocomplete="off">
      ${outcomeBoxes}
  <label>action <select id="action"><option value="">all</option></select></label>
  <label>from <input id="from" type="datetime-local" step="1"></label>
  <label>to <input id="to" type="datetime-local" step="1"></label>
  <label>search <input id="search" type="search" placeholder="key, target or error"></label>
</form>
<div id="table">
  <div class="cols"><span>seq</span><span>time (UTC)</span><span>duration</span><span>outcome</span><span>action</span><span>target</span><span>attempts</span><span>error</span></div>
  <div id="viewport"><div id="spacer"></div><div id="empty">No step matches the filters.</div></div>
</div>
<script id="timeline-data" type="application/json">${data}</script>
<script>
"use strict";
(function () {
  var data = JSON.parse(document.getElementById("timeline-data").textContent);
  var rows = data.rows, outcomes = data.outcomes, actions = data.actions;
  var ROW = 26, OVERSCAN = 12;
  var viewport = document.getElementById("viewport"), spacer = document.getElementById("spacer");
  var form = document.getElementById("filters"), actionSelect = document.getElementById("action");
  var shown = rows, drawn = new Map();
  actions.map(function (name, index) { return [name, index]; })
    .sort(function (a, b) { return a[0] < b[0] ? -1 : 1; })
    .forEach(function (pair) {
      var option = document.createElement("option");
      option.value = String(pair[1]);
      option.textContent = pair[0];
      actionSelect.appendChild(option);
    });
  document.getElementById("total").textContent = String(rows.length);
  var counts = outcomes.map(function () { return 0; });
  rows.forEach(function (row) { counts[row[3]]++; });
  outcomes.forEach(function (outcome, index) {
    document.querySelector('[data-count="' + outcome + '"]').textContent = "(" + counts[index] + ")";
  });
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function time(ms) {
    var d = new Date(ms);
    if (isNaN(d.getTime())) return "?";
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + "." +
      String(d.getUTCMilliseconds()).padStart(3, "0");
  }
  function duration(ms) {
    if (ms < 0) return "";
    if (ms < 1000) return ms + " ms";
    if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 7200000) return Math.round(ms / 60000) + " min";
    return Math.round(ms / 3600000) + " h";
  }
  function parseLocal(value) { return value ? Date.parse(value + "Z") : NaN; }
  function cell(parent, text, className) {
    var span = document.createElement("span");
    span.textContent = text;
    if (className) span.className = className;
    parent.appendChild(span);
    return span;
  }
  function build(row) {
    var element = document.createElement("div");
    var outcome = outcomes[row[3]];
    element.className = "row";
    element.dataset.seq = String(row[0]);
    element.dataset.outcome = outcome;
    element.dataset.action = actions[row[4]];
    if (row[8] & 1) element.dataset.reconciled = "hook";
    if (row[8] & 2) element.dataset.operator = "true";
    if (row[8] & 4) element.dataset.interrupted = "true";
    element.title = row[9] ? "key " + row[9] : "";
    cell(element, String(row[0]));
    cell(element, time(row[1]));
    cell(element, duration(row[2]));
    var badge = cell(element, "");
    var label = document.createElement("span");
    label.className = "badge o-" + outcome;
    label.textContent = outcome.replace("_", " ");
    badge.appendChild(label);
    cell(element, actions[row[4]]);
    var target = cell(element, row[5]);
    if (row[8] & 1) appendMark(target, "reconciled by hook");
    if (row[8] & 2) appendMark(target, "operator");
    if (row[8] & 4) appendMark(target, "interrupted");
    cell(element, String(row[6]));
    cell(element, row[7], "error");
    return element;
  }
  function appendMark(parent, text) {
    var mark = document.createElement("span");
    mark.className = "mark";
    mark.textContent = "[" + text + "]";
    parent.appendChild(mark);
  }
  function draw() {
    var first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - OVERSCAN);
    var last = Math.min(shown.length, Math.ceil((viewport.scrollTop + viewport.clientHeight) / ROW) + OVERSCAN);
    drawn.forEach(function (element, index) {
      if (index < first || index >= last) { element.remove(); drawn.delete(index); }
    });
    for (var index = first; index < last; index++) {
      if (drawn.has(index)) continue;
      var element = build(shown[index]);
      element.style.top = index * ROW + "px";
      spacer.appendChild(element);
      drawn.set(index, element);
    }
  }
  function apply() {
    var wanted = {};
    form.querySelectorAll('input[name="outcome"]').forEach(function (box) {
      if (box.checked) wanted[outcomes.indexOf(box.value)] = true;
    });
    var action = actionSelect.value === "" ? -1 : Number(actionSelect.value);
    var from = parseLocal(document.getElementById("from").value);
    var to = parseLocal(document.getElementById("to").value);
    var search = document.getElementById("search").value.toLowerCase();
    shown = rows.filter(function (row) {
      if (!wanted[row[3]]) return false;
      if (action !== -1 && row[4] !== action) return false;
      if (!isNaN(from) && row[1] < from) return false;
      if (!isNaN(to) && row[1] > to) return false;
      if (search && (row[9] + " " + row[5] + " " + row[7]).toLowerCase().indexOf(search) === -1) return false;
      return true;
    });
    drawn.forEach(function (element) { element.remove(); });
    drawn.clear();
    spacer.style.height = shown.length * ROW + "px";
    document.getElementById("shown-count").textContent = String(shown.length);
    document.getElementById("empty").style.display = shown.length === 0 ? "block" : "none";
    viewport.scrollTop = 0;
    draw();
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  viewport.addEventListener("scroll", function () { window.requestAnimationFrame(draw); });
  window.addEventListener("resize", draw);
  apply();
  document.body.dataset.ready = "true";
})();
</script>
</body>
</html>
`;
}
