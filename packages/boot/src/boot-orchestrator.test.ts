import { CircuitBreakerGroup } from "@beauvoir/breaker";
import { SecretRedactor } from "@beauvoir/redactor";
import { afterEach, describe, expect, it } from "vitest";
import {
  CountingRateLimiter,
  capturingLogger,
  MemoryAuditTrail,
  MemoryIdempotencyIndex,
  MemoryLockManager,
  MemoryStoreFactory,
} from "../test/fakes.js";
import type { BootConfig, BootInitializers } from "./boot-config.js";
import { BootOrchestrator, boot } from "./boot-orchestrator.js";
import { BootError } from "./errors.js";

function fakes(overrides: Partial<BootInitializers> = {}) {
  const order: string[] = [];
  const audit = new MemoryAuditTrail();
  const index = new MemoryIdempotencyIndex(audit);
  const locks = new MemoryLockManager();
  const stores = new MemoryStoreFactory() as MemoryStoreFactory & {
    cleanupQuarantine?: () => Promise<void>;
  };
  let quarantineCleaned = 0;
  stores.cleanupQuarantine = async () => {
    quarantineCleaned++;
  };
  const limiter = new CountingRateLimiter();
  const { lines, logger } = capturingLogger();
  const initializers: BootInitializers = {
    filesystem: async () => void order.push("filesystem"),
    lockManager: () => {
      order.push("lockManager");
      return locks;
    },
    redactor: () => {
      order.push("redactor");
      return { redactAny: (value: unknown) => value };
    },
    logger: () => {
      order.push("logger");
      return logger;
    },
    auditTrail: async () => {
      order.push("auditTrail");
      return { auditTrail: audit, recordsLost: 0 };
    },
    storeFactory: () => {
      order.push("storeFactory");
      return stores;
    },
    circuitBreakers: () => {
      order.push("circuitBreakers");
      return new CircuitBreakerGroup();
    },
    rateLimiter: () => {
      order.push("rateLimiter");
      return limiter;
    },
    idempotencyIndex: async () => {
      order.push("idempotencyIndex");
      return index;
    },
    ...overrides,
  };
  return {
    order,
    audit,
    index,
    locks,
    stores,
    limiter,
    lines,
    initializers,
    quarantineCleaned: () => quarantineCleaned,
  };
}

const dataDir = "/tmp/beauvoir-boot-unit";
const failing = (message: string) => () => {
  throw new Error(message);
};
const bootWith = (f: ReturnType<typeof fakes>, config: Partial<BootConfig> = {}) =>
  boot({ dataDir, initializers: f.initializers, ...config });

const signalListeners = () => process.listenerCount("SIGTERM") + process.listenerCount("SIGINT");

describe("boot: the seven steps", () => {
  it("initializes everything in order and reports autonomous mode", async () => {
    const f = fakes();
    const app = await bootWith(f);
    expect(f.order).toEqual([
      "filesystem",
      "lockManager",
      "redactor",
      "logger",
      "auditTrail",
      "storeFactory",
      "circuitBreakers",
      "rateLimiter",
      "idempotencyIndex",
    ]);
    expect(app.mode).toBe("autonomous");
    expect(app.health).toMatchObject({ success: true, mode: "autonomous", warnings: [] });
    expect(app.health.bootTimeMs).toBeGreaterThanOrEqual(0);
    expect(app.health.subsystems).toEqual({
      config: "ok",
      filesystem: "ok",
      lockManager: "ok",
      instanceLock: "ok",
      redactor: "ok",
      logger: "ok",
      auditTrail: "ok",
      storeFactory: "ok",
      circuitBreakers: "ok",
      rateLimiter: "ok",
      idempotencyIndex: "ok",
      reconciliation: "ok",
      staleLocks: "ok",
    });
    expect(app.services.auditTrail).toBe(f.audit);
    expect(app.services.idempotencyIndex).toBe(f.index);
    expect(app.services.toolValidator).toBeUndefined();
    expect(f.locks.held.has("boot-instance")).toBe(true);
    expect(f.locks.recovered).toBe(1);
    expect(f.quarantineCleaned()).toBe(1);
    expect(app.reconciliation).toEqual({
      promoted: [],
      rerun: [],
      failed: [],
      unresolved: [],
      awaitingHook: [],
      closedIntents: [],
    });
    expect(f.lines.some((line) => line.message === "boot: done")).toBe(true);
    const outcome = await app.executor.execute({
      action: "create_branch",
      scope: "acme/widgets",
      resource: "feature",
      params: {},
      run: async () => "created",
    });
    expect(outcome.status).toBe("executed");
    await app.shutdown();
  });

  it("aborts on a P0 failure, closing what it opened and releasing the instance lock", async () => {
    const f = fakes({
      idempotencyIndex: failing("never reached"),
      auditTrail: async () => {
        throw new Error("EACCES: audit.jsonl");
      },
    });
    const failure = await bootWith(f).catch((error: unknown) => error);
    expect(BootError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({ code: "BOOT_FAILED", step: "auditTrail" });
    expect((failure as BootError).message).toContain("EACCES");
    expect((failure as BootError).health).toMatchObject({ success: false });
    expect((failure as BootError).health.subsystems.auditTrail).toBe("failed");
    expect(f.order).not.toContain("storeFactory");
    expect(f.locks.held.size).toBe(0);
  });

  it("validates the config first (step 1)", async () => {
    for (const config of [
      { dataDir: "relative/dir" },
      { dataDir: "" },
      { dataDir, shutdownTimeoutMs: -1 },
      { dataDir, instanceLockWaitMs: Number.NaN },
      { dataDir, toolNames: ["a"] },
      { dataDir, reconcilers: { a: "nope" as never } },
      { dataDir, retry: { maxAttempts: 0 } },
      { dataDir, maxWaitMs: -5 },
      { dataDir, reconcileTimeoutMs: 0 },
      { dataDir, dryRun: "yes" as never },
    ]) {
      const f = fakes();
      const failure = await boot({ ...config, initializers: f.initializers }).catch(
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: "BOOT_FAILED", step: "config" });
      expect(f.order).toEqual([]);
    }
    expect(() => new BootOrchestrator(null as never)).toThrow(TypeError);
  });

  it("fails with a LOCK_HELD cause when another process holds the data directory, even with allowDev", async () => {
    const f = fakes();
    f.locks.held.add("boot-instance");
    for (const allowDev of [false, true]) {
      const failure = await bootWith(f, { allowDev }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: "BOOT_FAILED", step: "instanceLock" });
      expect((failure as Error).cause).toMatchObject({ code: "LOCK_HELD" });
    }
  });

  it("degrades on a P1 failure: writes refused, reads run, the failed service is undefined", async () => {
    const f = fakes({ idempotencyIndex: failing("index store corrupt") });
    const app = await bootWith(f);
    expect(app.mode).toBe("degraded");
    expect(app.health).toMatchObject({ success: true, mode: "degraded" });
    expect(app.health.subsystems.idempotencyIndex).toBe("failed");
    expect(app.health.subsystems.reconciliation).toBe("degraded");
    expect(app.health.warnings.join("\n")).toContain("index store corrupt");
    expect(app.services.idempotencyIndex).toBeUndefined();
    const write = {
      action: "add_labels",
      scope: "acme/widgets",
      resource: "issue-1",
      params: {},
      run: async () => 1,
    };
    await expect(app.executor.execute(write)).rejects.toMatchObject({ code: "DEGRADED_MODE" });
    expect((await app.executor.execute({ ...write, kind: "read" })).status).toBe("read");
    expect(f.audit.records).toEqual([]);
    await app.shutdown();
  });

  it("passes the executor options of the config on", async () => {
    const f = fakes();
    const app = await bootWith(f, { dryRun: true, retry: { maxAttempts: 1 }, maxWaitMs: 10 });
    let calls = 0;
    const outcome = await app.executor.execute({
      action: "add_labels",
      scope: "acme/widgets",
      resource: "issue-1",
      params: {},
      run: async () => ++calls,
    });
    expect(outcome.status).toBe("dry_run");
    expect(calls).toBe(0);
    expect(f.audit.records.map((record) => record.phase)).toEqual(["dry_run"]);
    expect(f.limiter.waits).toEqual([]);
    await app.shutdown();
  });

  it.each(["storeFactory", "circuitBreakers", "rateLimiter"] as const)(
    "degrades when %s fails",
    async (step) => {
      const app = await bootWith(fakes({ [step]: failing(`${step} broke`) }));
      expect(app.mode).toBe("degraded");
      expect(app.health.subsystems[step]).toBe("failed");
      expect(app.services[step]).toBeUndefined();
      await app.shutdown();
    },
  );

  describe("allowDev", () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    afterEach(() => {
      process.off("warning", onWarning);
      warnings.length = 0;
    });

    it("boots in dev mode on a P0 failure with a loud warning", async () => {
      process.on("warning", onWarning);
      const f = fakes({ auditTrail: failing("disk gone") });
      const app = await bootWith(f, { allowDev: true });
      expect(app.mode).toBe("dev");
      expect(app.health).toMatchObject({ success: false, mode: "dev" });
      expect(app.health.subsystems.idempotencyIndex).toBe("failed");
      expect(app.health.warnings.at(-1)).toMatch(/DEV MODE: auditTrail, idempotencyIndex failed/);
      expect(f.lines.some((line) => line.level === "error" && /DEV MODE/.test(line.message))).toBe(
        true,
      );
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((warning) => (warning as Error & { code?: string }).code)).toContain(
        "BEAUVOIR_DEV_MODE",
      );
      // Dev mode runs writes without the missing durability.
      const outcome = await app.executor.execute({
        action: "x",
        scope: "s",
        resource: "r",
        params: {},
        run: async () => 2,
      });
      expect(outcome).toEqual({ status: "executed", idempotencyKey: "", result: 2, attempts: 1 });
      await app.shutdown();
    });

    it("hands out a logger with child() even when the logger failed", async () => {
      process.on("warning", onWarning);
      const app = await bootWith(fakes({ logger: failing("no logger") }), { allowDev: true });
      expect(app.mode).toBe("dev");
      expect(typeof app.services.logger.child("x").info).toBe("function");
      app.services.logger.child({ run: 1 }).info("quiet");
      await app.shutdown();
    });

    it("boots in dev mode on a P1 failure", async () => {
      process.on("warning", onWarning);
      const app = await bootWith(fakes({ rateLimiter: failing("nope") }), { allowDev: true });
      expect(app.mode).toBe("dev");
      expect(app.health.success).toBe(true);
      await app.shutdown();
    });
  });

  describe("step 4: tools", () => {
    const actionPolicy = {
      tools: { add_labels: {}, add_issue_comment: { constraints: { body: { pattern: "^\\S" } } } },
    };

    it("aborts when the policy names a tool the registry lacks", async () => {
      const failure = await bootWith(fakes(), { actionPolicy, toolNames: ["add_labels"] }).catch(
        (error) => error,
      );
      expect(failure).toMatchObject({ code: "BOOT_FAILED", step: "tools" });
      expect((failure as Error).message).toContain("add_issue_comment");
    });

    it("aborts on an invalid pattern", async () => {
      const bad = { tools: { t: { constraints: { p: { pattern: "(" } } } } };
      const failure = await bootWith(fakes(), { actionPolicy: bad }).catch((error) => error);
      expect((failure as Error).cause).toMatchObject({ code: "INVALID_TOOL_POLICY" });
    });

    it("warns about registered tools outside the policy and exposes the validator", async () => {
      const app = await bootWith(fakes(), {
        actionPolicy,
        toolNames: ["add_labels", "add_issue_comment", "delete_repo"],
      });
      expect(app.health.subsystems.tools).toBe("ok");
      expect(app.health.warnings).toEqual([expect.stringContaining('"delete_repo"')]);
      expect(
        app.services.toolValidator?.validateParams("add_issue_comment", { body: " x" }),
      ).toHaveLength(1);
      await app.shutdown();
    });
  });

  it("reconciles pending entries at step 5 with the configured hooks", async () => {
    const f = fakes();
    const key = f.index.generateKey("add_issue_comment", "acme/widgets", "issue-1", {});
    const seq = await f.audit.recordIntent({
      action: "add_issue_comment",
      target: "t",
      params: {},
      dedupeKey: key,
    });
    await f.index.markPending(key, seq, { strategy: "check_then_retry" });
    const app = await bootWith(f, { reconcilers: { add_issue_comment: async () => "done" } });
    expect(app.reconciliation?.promoted).toEqual([key]);
    expect(f.index.entries.get(key)?.status).toBe("completed");
    await app.shutdown();
  });

  it("warns and goes on when reconciliation, stale-lock recovery or quarantine cleanup fail", async () => {
    const f = fakes();
    f.index.reconcilePending = async () => {
      throw new Error("index unreadable");
    };
    f.locks.failRecovery = new Error("EACCES locks");
    f.stores.cleanupQuarantine = async () => {
      throw new Error("EBUSY");
    };
    const app = await bootWith(f, {
      initializers: {
        ...f.initializers,
        auditTrail: async () => ({ auditTrail: f.audit, recordsLost: 2 }),
      },
    });
    expect(app.mode).toBe("autonomous");
    expect(app.health.subsystems.reconciliation).toBe("degraded");
    expect(app.health.subsystems.staleLocks).toBe("degraded");
    expect(app.health.warnings).toEqual([
      expect.stringContaining("dropped 2 record(s)"),
      expect.stringContaining("index unreadable"),
      expect.stringContaining("EACCES locks"),
      expect.stringContaining("EBUSY"),
    ]);
    await app.shutdown();
  });

  it("reports steps left in doubt or marked failed by reconciliation", async () => {
    const f = fakes();
    for (const [action, resource] of [
      ["add_issue_comment", "a"],
      ["merge", "b"],
    ] as const) {
      const key = f.index.generateKey(action, "s", resource, {});
      const seq = await f.audit.recordIntent({ action, target: "t", params: {} });
      await f.index.markPending(key, seq);
    }
    const app = await bootWith(f, {
      reconcilers: {
        add_issue_comment: async () => {
          throw new Error("remote down");
        },
      },
    });
    expect(app.health.subsystems.reconciliation).toBe("degraded");
    expect(app.health.warnings.join("\n")).toMatch(/1 pending step\(s\) left in doubt/);
    expect(app.health.warnings.join("\n")).toMatch(/1 pending step\(s\) marked failed/);
    await app.shutdown();
  });

  it("registers the configured workflows", async () => {
    const app = await bootWith(fakes(), {
      workflows: [
        { name: "hello", steps: [{ name: "say", action: "create_branch", run: async () => "hi" }] },
      ],
    });
    const runId = await app.workflows.start("hello", {});
    expect((await app.workflows.run(runId)).outputs).toEqual({ say: "hi" });
    await app.shutdown();
  });
});

describe("shutdown", () => {
  it("drains in-flight steps, closes everything, releases locks and emits shutdown once", async () => {
    const f = fakes();
    const app = await bootWith(f);
    const events: unknown[] = [];
    app.on("shutdown", (event) => events.push(event));
    const dispose = app.on("shutdown", () => events.push("disposed listener"));
    app.on("shutdown", () => {
      throw new Error("listener bug");
    });
    dispose();
    let finish: (value: string) => void = () => {};
    const step = app.executor.execute({
      action: "create_branch",
      scope: "s",
      resource: "r",
      params: {},
      run: () => new Promise<string>((resolve) => (finish = resolve)),
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const closing = app.shutdown({ reason: "deploy" });
    expect(app.shutdown()).toBe(closing);
    await expect(
      app.executor.execute({
        action: "a",
        scope: "s",
        resource: "x",
        params: {},
        run: async () => 1,
      }),
    ).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
    await expect(app.workflows.start("any", {})).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(f.audit.closed).toBe(false);
    finish("created");
    const event = await closing;
    expect((await step).status).toBe("executed");
    expect(event).toEqual({ reason: "deploy", drained: true, errors: [] });
    expect(events).toEqual([event]);
    expect(f.audit.closed).toBe(true);
    expect(f.index.closed).toBe(true);
    expect(f.limiter.stopped).toBe(true);
    expect(f.locks.released).toBe(true);
    expect(f.locks.held.size).toBe(0);
    expect(f.lines.some((line) => line.message === "shutdown: a listener threw")).toBe(true);
  });

  it("gives up waiting after the timeout and still closes everything", async () => {
    const f = fakes();
    const app = await bootWith(f, { shutdownTimeoutMs: 20 });
    const step = app.executor
      .execute({
        action: "create_branch",
        scope: "s",
        resource: "r",
        params: {},
        run: ({ signal }) =>
          new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      })
      .catch((error) => error);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const event = await app.shutdown();
    expect(event.drained).toBe(false);
    expect(await step).toMatchObject({ code: "SHUTTING_DOWN" });
    expect(f.audit.closed).toBe(true);
    expect(f.locks.released).toBe(true);
  });

  it("collects close errors without stopping", async () => {
    const f = fakes();
    f.index.close = async () => {
      throw new Error("flush failed");
    };
    const app = await bootWith(f);
    const event = await app.shutdown();
    expect(event.errors).toEqual(["idempotencyIndex: flush failed"]);
    expect(f.audit.closed).toBe(true);
    expect(() => app.on("exit" as never, () => {})).toThrow(RangeError);
  });

  it("redacts the close errors it hands to listeners and the caller", async () => {
    const f = fakes({ redactor: () => new SecretRedactor() });
    const token = `ghp_${"Zq8Wx7Vc6B".repeat(3)}445566`;
    f.index.close = async () => {
      throw new Error(`flush to https://x-access-token:${token}@example.com failed`);
    };
    const app = await bootWith(f);
    const seen: string[] = [];
    app.on("shutdown", (event) => seen.push(...event.errors));
    const event = await app.shutdown();
    expect(event.errors).toHaveLength(1);
    expect([...event.errors, ...seen].join("\n")).not.toContain(token);
    expect(event.errors[0]).toMatch(/^idempotencyIndex: flush to .*REDACTED/);
  });

  it("installs SIGTERM/SIGINT handlers only when asked, and removes them at shutdown", async () => {
    const before = signalListeners();
    const quiet = await bootWith(fakes());
    expect(signalListeners()).toBe(before);
    await quiet.shutdown();
    const app = await bootWith(fakes(), { handleSignals: true });
    expect(signalListeners()).toBe(before + 2);
    await app.shutdown();
    expect(signalListeners()).toBe(before);
  });
});
