import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { Queryable } from "../../src/queryable.js";

const worker = fileURLToPath(new URL("../fixtures/replica-worker.mjs", import.meta.url));

/** A step of the replicas' job: its action picks the strategy. */
export interface JobStep {
  action: "add_issue_comment" | "add_labels" | "merge_pull_request";
  resource: string;
}

/** `check_then_retry`, `safe_retry` and `skip`, in the default compensation table. */
export const STRATEGY_ACTIONS = ["add_issue_comment", "add_labels", "merge_pull_request"] as const;

/** A job of `perAction` steps of each strategy's action. */
export function jobOf(perAction: number, label: string): JobStep[] {
  return STRATEGY_ACTIONS.flatMap((action) =>
    Array.from({ length: perAction }, (_, index) => ({ action, resource: `${label}-${index}` })),
  );
}

/**
 * The remote side of the replicas' side effects (what GitHub would count):
 * `POST /effects/<key>` performs one, `GET /effects/<key>` says how many were
 * performed, for reconcile hooks.
 */
export class CountingRemote {
  readonly counts = new Map<string, number>();
  #server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.#server = createServer((request, response) => {
      const key = decodeURIComponent((request.url ?? "").replace(/^\/effects\//, ""));
      if (request.method === "POST") this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      // A little latency widens the window between the effect and its record.
      setTimeout(() => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ count: this.counts.get(key) ?? 0 }));
      }, Math.random() * 15);
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }
}

/** A replica process. */
export interface ReplicaProcess {
  label: string;
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  /** How it ended: its exit code, or the signal that ended it. */
  exited: Promise<number | NodeJS.Signals>;
}

/** Starts a replica running the job (killing itself at `killAt`, `point:action`, if given). */
export function spawnReplica(options: {
  databaseUrl: string;
  schema: string;
  remote: CountingRemote;
  steps: readonly JobStep[];
  label: string;
  killAt?: string;
}): ReplicaProcess {
  const child = spawn(process.execPath, [worker], {
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      SCHEMA: options.schema,
      REMOTE_URL: options.remote.url,
      STEPS: JSON.stringify(options.steps),
      LABEL: options.label,
      ...(options.killAt === undefined ? {} : { KILL_AT: options.killAt }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: Array<Record<string, unknown>> = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      events.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not an event
    }
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.on("exit", (code, signal) => {
      if (code !== 0 && code !== null) process.stderr.write(`${options.label}: ${stderr}\n`);
      resolve(signal ?? code ?? 0);
    });
  });
  return { label: options.label, child, events, exited };
}

/**
 * The invariants over the remote's counts and the key table after a
 * job: exactly one effect per `check_then_retry` key, at least one per
 * `safe_retry`, at most one per `skip`; every key terminal, or pending with a
 * live owner.
 */
export async function expectJobInvariants(
  admin: Queryable,
  schema: string,
  remote: CountingRemote,
  steps: readonly JobStep[],
): Promise<{ keys: number; failed: number }> {
  const { rows } = await admin.query<{
    key: string;
    status: string;
    action: string;
    owner_live: boolean;
  }>({
    text: `SELECT k.key, k.status, k.action,
                  EXISTS (SELECT 1 FROM ${schema}.instances o WHERE o.id = k.owner_id
                           AND o.stopped_at IS NULL AND o.lease_expires_at > now()) AS owner_live
             FROM ${schema}.idempotency_keys k`,
  });
  const byResource = new Map<string, (typeof rows)[number]>();
  for (const row of rows) {
    // {action}:acme/widgets/{resource}:{hash}
    const resource = row.key
      .slice(row.key.indexOf(":") + 1, row.key.lastIndexOf(":"))
      .split("/")
      .pop();
    byResource.set(`${row.action}:${resource}`, row);
  }
  let failed = 0;
  for (const step of steps) {
    const row = byResource.get(`${step.action}:${step.resource}`);
    const count = row === undefined ? 0 : (remote.counts.get(row.key) ?? 0);
    const where = `${step.action} ${step.resource}`;
    if (step.action === "add_issue_comment") expect(count, where).toBe(1);
    if (step.action === "add_labels") expect(count, where).toBeGreaterThanOrEqual(1);
    if (step.action === "merge_pull_request") expect(count, where).toBeLessThanOrEqual(1);
    expect(row, `${where} was claimed`).toBeDefined();
    if (row === undefined) continue;
    expect(row.status === "completed" || row.status === "failed" || row.owner_live, where).toBe(
      true,
    );
    if (row.status === "failed") {
      failed++;
      expect(row.action, where).toBe("merge_pull_request");
    }
  }
  return { keys: rows.length, failed };
}
