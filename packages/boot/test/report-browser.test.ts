import { fork } from "node:child_process";
import { access, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AuditTrail } from "@beauvoir/audit-trail";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHtmlReport } from "../src/cli/report/html-report.js";
import type { TimelineStep } from "../src/cli/report/timeline.js";
import { boot } from "../src/index.js";
import { beauvoir } from "./beauvoir-in-process.js";
import { commentLanded, UNFINISHED, unfinishedStep } from "./fixtures/operator-steps.mjs";
import { waitForExit } from "./spawn-crash-worker.js";

// Debian's chromium, driven by playwright-core (no browser download): .ci/run installs it.
const CHROMIUM = "/usr/bin/chromium";
const artifacts = fileURLToPath(new URL("../test-artifacts/", import.meta.url));
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));

let root: string;
let browser: Browser;

/** A data directory from a real run: a worker killed with SIGKILL mid-steps, a key resolved by hand, a boot that reconciles. */
async function makeRun(dataDir: string, effectsFile: string): Promise<void> {
  const child = fork(`${fixtures}operator-worker.mjs`, [JSON.stringify({ dataDir, effectsFile })], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    child.on("message", (message: { ready?: boolean }) => message.ready && resolve());
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) early`)));
  });
  child.kill("SIGKILL");
  await waitForExit(child);
  const keys = JSON.parse((await beauvoir(["keys", "list", dataDir, "--json"])).stdout) as {
    key: string;
    action: string;
  }[];
  const merge = keys.find((entry) => entry.action === "merge_pull_request")!.key;
  expect((await beauvoir(["keys", "resolve", dataDir, merge, "done"])).code).toBe(0);
  const app = await boot({
    dataDir,
    log: { level: "error" },
    reconcilers: { add_issue_comment: commentLanded(effectsFile) },
  });
  for (const [action, resource] of UNFINISHED) {
    await app.executor.execute(unfinishedStep(action, resource, effectsFile));
  }
  await app.shutdown();
}

async function openReport(
  file: string,
): Promise<{ page: Page; requests: string[]; dialogs: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const requests: string[] = [];
  const dialogs: string[] = [];
  page.on("request", (request) => requests.push(request.url()));
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector("body[data-ready=true]");
  return { page, requests, dialogs };
}

beforeAll(async () => {
  await access(CHROMIUM).catch(() => {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  });
  root = await mkdtemp(join(tmpdir(), "beauvoir-report-"));
  await mkdir(artifacts, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await rm(root, { recursive: true, force: true });
});

describe("beauvoir report --html, in a real browser", () => {
  it("shows a real run's steps, the crash, the reconcile and the operator's decision, and filters them", async () => {
    const dataDir = join(root, "data");
    await makeRun(dataDir, join(root, "effects.log"));
    const file = join(root, "report.html");
    const written = await beauvoir(["report", dataDir, "--html", file]);
    expect(written).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^wrote .*report\.html: 16 step\(s\)/),
    });

    const { page, requests, dialogs } = await openReport(file);
    expect(await page.textContent("#verification")).toMatch(
      /^Audit chain verifies: \d+ record\(s\), head seq \d+/,
    );
    expect(await page.getAttribute("#verification", "data-valid")).toBe("true");
    expect(await page.textContent("#total")).toBe("16");
    const rows = async () =>
      page.$$eval(".row", (elements) =>
        elements.map((element) => ({
          outcome: element.getAttribute("data-outcome"),
          action: element.getAttribute("data-action"),
          reconciled: element.getAttribute("data-reconciled"),
          operator: element.getAttribute("data-operator"),
          interrupted: element.getAttribute("data-interrupted"),
          text: element.textContent,
        })),
      );
    const all = await rows();
    expect(all).toHaveLength(16);
    expect(
      all.filter((row) => row.action === "add_labels").every((row) => row.outcome === "executed"),
    ).toBe(true);
    expect(all.find((row) => row.action === "add_issue_comment")).toMatchObject({
      outcome: "reconciled",
      reconciled: "hook",
    });
    expect(all.find((row) => row.action === "merge_pull_request")).toMatchObject({
      outcome: "reconciled",
      operator: "true",
    });
    // Its intent was cut off by the kill (closed ABANDONED at boot), then it ran.
    expect(all.find((row) => row.action === "create_branch")).toMatchObject({
      outcome: "executed",
      interrupted: "true",
    });
    const review = all.find((row) => row.action === "create_review")!;
    expect(review.outcome).toBe("failed");
    expect(review.text).toContain("HTTP 422");
    await page.screenshot({ path: join(artifacts, "report-real-run.png"), fullPage: true });

    // Only failed steps.
    for (const outcome of [
      "executed",
      "deduplicated",
      "reconciled",
      "denied",
      "dry_run",
      "pending",
    ]) {
      await page.uncheck(`input[name=outcome][value=${outcome}]`);
    }
    expect((await rows()).map((row) => row.action)).toEqual(["create_review"]);
    expect(await page.textContent("#shown-count")).toBe("1");
    // Every outcome again, one action.
    await page.check("input[name=outcome][value=reconciled]");
    await page.check("input[name=outcome][value=executed]");
    await page.selectOption("#action", { label: "add_issue_comment" });
    expect((await rows()).map((row) => row.outcome)).toEqual(["reconciled"]);
    // A time window after every step: nothing.
    await page.selectOption("#action", { label: "all" });
    await page.fill("#from", "2100-01-01T00:00:00");
    expect(await rows()).toEqual([]);
    expect(await page.isVisible("#empty")).toBe(true);
    await page.screenshot({ path: join(artifacts, "report-filtered.png") });

    expect(requests.every((url) => url.startsWith("file://"))).toBe(true);
    expect(requests).toHaveLength(1);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it("escapes records that try to inject HTML or script", async () => {
    const dataDir = join(root, "hostile");
    await mkdir(join(dataDir, "audit"), { recursive: true });
    const trail = new AuditTrail({
      path: join(dataDir, "audit", "audit.jsonl"),
      redactor: { redactAny: (value) => value },
    });
    await trail.initialize();
    const hostile = `</script><script>alert("x")</script><img src=x onerror="alert('y')">`;
    const seq = await trail.recordIntent({
      action: `act<b>ion</b>`,
      target: hostile,
      params: {},
      dedupeKey: hostile,
    });
    await trail.recordResult(seq, undefined, `Error: ${hostile}\u001b[31m`);
    await trail.recordDenied({
      action: "delete_repo",
      target: "\u202eevil",
      params: {},
      reason: "<!--",
    });
    await trail.close();
    const file = join(root, "hostile.html");
    expect((await beauvoir(["report", dataDir, "--html", file])).code).toBe(0);
    const { page, dialogs, requests } = await openReport(file);
    expect(dialogs).toEqual([]);
    expect(await page.$$("img")).toHaveLength(0);
    expect(await page.$$("script")).toHaveLength(2);
    const texts = await page.$$eval(".row", (elements) =>
      elements.map((element) => element.textContent ?? ""),
    );
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain(hostile);
    expect(texts[0]).toContain("\\x1b[31m");
    expect(texts[1]).toContain("\\u202eevil");
    expect(await page.$eval("#action", (select) => select.textContent)).toContain("act<b>ion</b>");
    expect(requests).toHaveLength(1);
    await page.close();
  });

  it("draws only the rows in view of 100,000 steps, and scrolls and filters through them", async () => {
    const steps: TimelineStep[] = Array.from({ length: 100_000 }, (_, index) => ({
      seq: index * 2 + 1,
      startMs: Date.UTC(2026, 0, 1) + index * 1_000,
      durationMs: 120,
      outcome: index % 10 === 0 ? "failed" : "executed",
      action: `action_${index % 7}`,
      target: `acme/widgets/issues/${index}`,
      key: `action_${index % 7}:acme/widgets/issues/${index}:0123456789abcdef`,
      attempts: 1,
      error: index % 10 === 0 ? "FAILED: attempt 3 of 3 ambiguous: HTTP 502" : "",
      marks: { reconciledByHook: false, operator: false, interrupted: false },
    }));
    const file = join(root, "large.html");
    await writeFile(
      file,
      renderHtmlReport({
        title: "large",
        dataDir: "/var/lib/agent",
        generatedAt: new Date(0).toISOString(),
        verification: {
          valid: true,
          records: 200_000,
          headSeq: 200_000,
          headHash: "0".repeat(64),
          hmacChecked: false,
        },
        steps,
      }),
    );
    const { page } = await openReport(file);
    expect(await page.textContent("#shown-count")).toBe("100000");
    expect((await page.$$(".row")).length).toBeLessThan(200);
    await page.$eval("#viewport", (viewport) => {
      viewport.scrollTop = viewport.scrollHeight;
    });
    await page.waitForSelector('.row[data-seq="199999"]');
    await page.uncheck("input[name=outcome][value=executed]");
    expect(await page.textContent("#shown-count")).toBe("10000");
    const outcomes = await page.$$eval(".row", (elements) =>
      elements.map((element) => element.getAttribute("data-outcome")),
    );
    expect(new Set(outcomes)).toEqual(new Set(["failed"]));
    await page.screenshot({ path: join(artifacts, "report-100k-failed.png") });
    await page.close();
  });
});
