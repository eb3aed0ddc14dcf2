import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { AuditTrail } from "@beauvoir/audit-trail";
import { chromium } from "playwright-core";
import { type BenchRow, measured, medianMs } from "../harness.js";

const run = promisify(execFile);
const RECORDS = 100_000;
const CONCURRENCY = 256;
const CHROMIUM = "/usr/bin/chromium";
const packages = fileURLToPath(new URL("../../../packages/", import.meta.url));
const beauvoirBin = join(packages, "boot", "bin", "beauvoir.js");
const auditBin = join(packages, "audit-trail", "bin", "beauvoir-audit.js");

const median = (values: number[]) =>
  [...values].sort((left, right) => left - right)[Math.floor(values.length / 2)] ?? 0;

/** 100,000 records in boot's layout: steps of 8 actions, one in 10 failing, with rotation. */
async function writeHistory(dataDir: string): Promise<void> {
  for (const name of ["audit", "stores", "locks", "idempotency"]) {
    await mkdir(join(dataDir, name), { recursive: true });
  }
  const trail = new AuditTrail({ path: join(dataDir, "audit", "audit.jsonl") });
  await trail.initialize();
  for (let step = 0; step < RECORDS / 2; step += CONCURRENCY) {
    const batch: Promise<unknown>[] = [];
    for (let index = step; index < Math.min(step + CONCURRENCY, RECORDS / 2); index++) {
      const action = `action_${index % 8}`;
      const key = `${action}:acme/widgets/issues/${index}:0123456789abcdef`;
      batch.push(
        trail
          .recordIntent({
            action,
            target: `acme/widgets/issues/${index}`,
            params: { scope: "acme/widgets", resource: `issues/${index}`, params: { n: index } },
            dedupeKey: key,
          })
          .then((seq) =>
            trail.recordResult(
              seq,
              index % 10 === 0 ? undefined : { id: index },
              index % 10 === 0 ? "FAILED: attempt 3 of 3 ambiguous: HTTP 502" : undefined,
            ),
          ),
      );
    }
    await Promise.all(batch);
  }
  await trail.close();
}

/** The same rows as one static table, all of them in the page: what an unvirtualized report costs. */
function naivePage(rows: string[][]): string {
  const asHtmlText = (text: string) =>
    text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
  const body = rows
    .map((row) => `<tr>${row.map((cell) => `<td>${asHtmlText(cell)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"></head><body><table>${body}</table><script>document.body.dataset.ready = "true";</script></body></html>`;
}

/**
 * `beauvoir report --html` on 100,000 records: generation time beside
 * `beauvoir-audit verify` of the same history (the verification it does
 * anyway), and the page's load time in chromium beside a static table of the
 * same rows, plus the time a filter takes.
 */
export default async function bootReportSuite(): Promise<BenchRow[]> {
  const root = await mkdtemp(join(tmpdir(), "beauvoir-bench-report-"));
  const rows: BenchRow[] = [];
  try {
    const dataDir = join(root, "data");
    await writeHistory(dataDir);
    const file = join(root, "report.html");
    const reportMs = await medianMs(async () => {
      await rm(file, { force: true });
      await run(process.execPath, [beauvoirBin, "report", dataDir, "--html", file]);
    }, 3);
    const verifyMs = await medianMs(() => run(process.execPath, [auditBin, "verify", dataDir]), 3);
    const size = (await stat(file)).size;
    rows.push(
      measured({
        suite: "boot",
        case: `report --html of ${RECORDS.toLocaleString("en-US")} records (ms, lower is better)`,
        unit: "ms",
        ours: { label: "beauvoir report", value: reportMs },
        peer: { label: "beauvoir-audit verify", value: verifyMs },
        value: reportMs / verifyMs,
        target: { atMost: 3 },
        note: `median of 3 runs of each command as a process; the page is ${(size / 1024 / 1024).toFixed(1)} MiB`,
      }),
    );
    try {
      await access(CHROMIUM);
    } catch {
      rows.push(
        measured({
          suite: "boot",
          case: "report page load in chromium",
          unit: "ms",
          ours: { label: "beauvoir report", value: Number.NaN },
          note: `${CHROMIUM} is missing: apt-get install -y chromium`,
        }),
      );
      return rows;
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const load = async (url: string) => {
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        const started = performance.now();
        await page.goto(url);
        await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
        const ms = performance.now() - started;
        return { page, ms };
      };
      const reportUrl = pathToFileURL(file).href;
      const loads: number[] = [];
      const filters: number[] = [];
      for (let index = 0; index < 3; index++) {
        const { page, ms } = await load(reportUrl);
        loads.push(ms);
        // Timed inside the page: the click's handler filters and redraws synchronously.
        const filterMs = (await page.evaluate(`(() => {
          const started = performance.now();
          document.querySelector("input[name=outcome][value=executed]").click();
          const ms = performance.now() - started;
          if (document.getElementById("shown-count").textContent !== "${RECORDS / 20}") throw new Error("filter did not apply");
          return ms;
        })()`)) as number;
        filters.push(filterMs);
        await page.close();
      }
      const naiveFile = join(dirname(file), "naive.html");
      const naiveRows = Array.from({ length: RECORDS / 2 }, (_, index) => [
        String(index * 2 + 1),
        new Date(Date.UTC(2026, 0, 1) + index).toISOString(),
        "3 ms",
        index % 10 === 0 ? "failed" : "executed",
        `action_${index % 8}`,
        `acme/widgets/issues/${index}`,
        "1",
        index % 10 === 0 ? "FAILED: attempt 3 of 3 ambiguous: HTTP 502" : "",
      ]);
      await writeFile(naiveFile, naivePage(naiveRows));
      const naiveLoads: number[] = [];
      for (let index = 0; index < 3; index++) {
        const { page, ms } = await load(pathToFileURL(naiveFile).href);
        naiveLoads.push(ms);
        await page.close();
      }
      rows.push(
        measured({
          suite: "boot",
          case: `report page load in chromium, ${(RECORDS / 2).toLocaleString("en-US")} steps (ms, lower is better)`,
          unit: "ms",
          ours: { label: "virtualized report", value: median(loads) },
          peer: { label: "static table of the rows", value: median(naiveLoads) },
          value: median(loads) / median(naiveLoads),
          target: { atMost: 1 },
          note: "navigation until the page says it is ready, median of 3",
        }),
        measured({
          suite: "boot",
          case: "report filter (hide executed steps), 50,000 steps",
          unit: "ms",
          ours: { label: "virtualized report", value: median(filters) },
          target: { atMost: 100 },
          note: "the click's handler (filter and redraw), timed in the page, median of 3",
        }),
      );
    } finally {
      await browser.close();
    }
    return rows;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
