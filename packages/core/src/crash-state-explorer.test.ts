import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { type CrashCheckContext, exploreCrashStates } from "./crash-state-explorer.js";
import type { CrashStateFileSystem } from "./crash-state-file-system.js";
import { isErrnoError } from "./errno.js";
import type { FileSystem } from "./file-system.js";
import { ManualClock } from "./manual-clock.js";

interface WriterFlaws {
  /** Skips the fsync of the directory after the rename. */
  skipDirectoryFsync?: boolean;
  /** Renames the tmp file into place before its data is synced. */
  skipDataSync?: boolean;
}

/** The classic atomic replace: tmp file, fsync, rename, directory fsync; with optional flaws. */
async function replaceFile(fs: FileSystem, path: string, text: string, flaws: WriterFlaws = {}) {
  const tmp = `${path}.tmp`;
  const handle = await fs.open(tmp, "wx", 0o600);
  await handle.write(Buffer.from(text));
  if (!flaws.skipDataSync) await handle.sync();
  await handle.close();
  await fs.rename(tmp, path);
  if (!flaws.skipDirectoryFsync) await fs.fsyncDirectory(dirname(path));
}

async function readText(fs: FileSystem, path: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(path)).toString("utf8");
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return undefined;
    throw error;
  }
}

const PATH = "/data/state";

/** Recovery must find the last promised value or a newer one that was started, never anything else. */
async function checkState({ fs, promised, started }: CrashCheckContext<string>): Promise<void> {
  const found = await readText(fs, PATH);
  const last = promised.at(-1);
  if (found === undefined) {
    if (last !== undefined) throw new Error(`state lost: ${last} was promised`);
    return;
  }
  const index = started.indexOf(found);
  if (index < 0) throw new Error(`unrecoverable state ${JSON.stringify(found)}`);
  if (last !== undefined && index < started.indexOf(last)) {
    throw new Error(`went back to ${found} after ${last} was promised`);
  }
}

function replaceScenario(values: string[], flaws: WriterFlaws = {}) {
  return {
    setup: async (fs: CrashStateFileSystem) => {
      await fs.mkdir("/data", { recursive: true });
    },
    scenario: async ({
      fs,
      track,
    }: {
      fs: CrashStateFileSystem;
      track: <T>(value: string, run: () => Promise<T>) => Promise<T>;
    }) => {
      for (const value of values) await track(value, () => replaceFile(fs, PATH, value, flaws));
    },
    check: checkState,
  };
}

const VALUES = ["first value", "second value ".repeat(60), "third"];

describe("exploreCrashStates", () => {
  it("finds no broken promise in a correct atomic replace, and counts what it explored", async () => {
    const report = await exploreCrashStates(replaceScenario(VALUES));
    expect(report.failures.map((failure) => failure.message)).toEqual([]);
    expect(report.calls).toBe(18);
    expect(report.crashPoints).toBe(19);
    expect(report.promisesResolved).toBe(3);
    expect(report.statesByModel.prefix).toBeGreaterThan(0);
    expect(report.statesByModel.torn).toBeGreaterThan(0);
    expect(report.statesExplored).toBe(
      report.statesByModel.prefix + report.statesByModel.subset + report.statesByModel.torn,
    );
    expect(report.statesExplored + report.duplicatesSkipped).toBe(report.imagesGenerated);
    expect(report.truncated).toBe(false);
    expect(report.summary).toContain(`${report.statesExplored} crash states checked`);
    expect(report.summary).toContain("at 19 crash points over 18 calls");
  });

  it("catches a writer that does not fsync the directory after its rename", async () => {
    const report = await exploreCrashStates(replaceScenario(VALUES, { skipDirectoryFsync: true }));
    expect(report.failures.length).toBeGreaterThan(0);
    const [failure] = report.failures;
    expect(failure?.message).toMatch(/state lost: first value was promised/);
    expect(failure?.message).toMatch(/lost {4}#\d+ rename \/data\/state.tmp -> \/data\/state/);
    expect(failure?.message).toMatch(/^power cut after call \d+ \(/);
  });

  it("catches a writer that renames before its data is synced", async () => {
    const report = await exploreCrashStates(replaceScenario(VALUES, { skipDataSync: true }));
    expect(report.failures.some((failure) => /unrecoverable state ""/.test(failure.message))).toBe(
      true,
    );
  });

  it("counts a value as promised at every crash point after its promise resolved", async () => {
    const seen = new Map<number, readonly string[]>();
    const report = await exploreCrashStates({
      ...replaceScenario(["a", "b"]),
      deduplicate: false,
      check: ({ crashPoint, promised }) => {
        seen.set(crashPoint, promised);
      },
    });
    expect(report.calls).toBe(12);
    // Each replace is 6 calls; its promise resolves after its sixth (the directory fsync).
    expect([...seen.entries()].sort(([a], [b]) => a - b)).toEqual([
      ...[0, 1, 2, 3, 4, 5].map((point) => [point, []]),
      ...[6, 7, 8, 9, 10, 11].map((point) => [point, ["a"]]),
      [12, ["a", "b"]],
    ]);
  });

  it("gives the check the crash point's last call, pending operations and image", async () => {
    const contexts: Array<{
      point: number;
      call?: string;
      pending: number;
      model: string;
      image: string;
    }> = [];
    await exploreCrashStates({
      ...replaceScenario(["a"]),
      models: ["prefix"],
      deduplicate: false,
      check: ({ crashPoint, lastCall, pendingOperations, model, image, applied }) => {
        expect(applied.length).toBeLessThanOrEqual(pendingOperations.length);
        contexts.push({
          point: crashPoint,
          call: lastCall?.operation,
          pending: pendingOperations.length,
          model,
          image,
        });
      },
    });
    const lastOfEach = contexts.filter(
      (context) => context.image === `prefix ${context.pending}/${context.pending}`,
    );
    expect(lastOfEach.map((context) => [context.point, context.call, context.pending])).toEqual([
      [0, undefined, 0],
      [1, "open", 1],
      [2, "write", 2],
      [3, "sync", 1],
      [4, "close", 1],
      [5, "rename", 2],
      [6, "fsyncDirectory", 0],
    ]);
    expect(new Set(contexts.map((context) => context.model))).toEqual(new Set(["prefix"]));
  });

  it("gives the check as many fresh copies of the image as it asks for", async () => {
    const report = await exploreCrashStates({
      ...replaceScenario(["a"]),
      check: async ({ fs, freshImage }) => {
        const before = JSON.stringify(fs.entries());
        await fs.mkdir("/scratch", { recursive: true });
        const copy = freshImage();
        expect(JSON.stringify(copy.entries())).toBe(before);
        expect(copy).not.toBe(fs);
      },
    });
    expect(report.failures).toEqual([]);
  });

  it("tells the check the time of the power cut by the filesystem's clock", async () => {
    const clock = new ManualClock(10_000);
    const times = new Map<number, number>();
    await exploreCrashStates<string>({
      fileSystem: { clock },
      scenario: async ({ fs }) => {
        await fs.mkdir("/a", { recursive: true });
        clock.advance(500);
        await fs.mkdir("/b", { recursive: true });
      },
      check: ({ crashPoint, crashedAt }) => {
        times.set(crashPoint, crashedAt);
      },
      deduplicate: false,
    });
    expect([...times.entries()]).toEqual([
      [0, 10_000],
      [1, 10_000],
      [2, 10_500],
    ]);
  });

  it("checks each distinct state once, unless told otherwise", async () => {
    const deduplicated = await exploreCrashStates(replaceScenario(VALUES));
    const everything = await exploreCrashStates({ ...replaceScenario(VALUES), deduplicate: false });
    expect(deduplicated.duplicatesSkipped).toBeGreaterThan(0);
    expect(everything.duplicatesSkipped).toBe(0);
    expect(everything.statesExplored).toBe(everything.imagesGenerated);
    expect(everything.imagesGenerated).toBe(deduplicated.imagesGenerated);
  });

  it("stops at maxStates and at maxFailures, and says so", async () => {
    const bounded = await exploreCrashStates({
      ...replaceScenario(VALUES),
      limits: { maxStates: 10 },
    });
    expect([bounded.statesExplored, bounded.truncated]).toEqual([10, true]);
    const failing = await exploreCrashStates({
      ...replaceScenario(VALUES, { skipDirectoryFsync: true }),
      limits: { maxFailures: 2 },
    });
    expect([failing.failures.length, failing.truncated]).toEqual([2, true]);
    expect(failing.summary).toContain("(stopped early)");
  });

  it("finds states only the subset model reaches: two files, each write order kept", async () => {
    const report = await exploreCrashStates<string>({
      scenario: async ({ fs }) => {
        for (const name of ["/a", "/b"]) {
          const handle = await fs.open(name, "w");
          await handle.write(Buffer.from(name));
          await handle.close();
        }
      },
      check: () => {},
    });
    // {create /b} alone, for one, is not a prefix of (create /a, write /a, create /b, write /b).
    expect(report.statesByModel.subset).toBeGreaterThan(0);
    expect(report.maxPendingOperations).toBe(4);
  });

  it("samples subsets at crash points with more than maxSubsets of them", async () => {
    const report = await exploreCrashStates<string>({
      scenario: async ({ fs }) => {
        for (let index = 0; index < 6; index++) await (await fs.open(`/f${index}`, "w")).close();
      },
      check: () => {},
      limits: { maxSubsets: 8 },
    });
    expect(report.sampledCrashPoints).toBeGreaterThan(0);
    expect(report.maxPendingOperations).toBe(6);
  });

  it("is the same on every run with the same seed", async () => {
    const first = await exploreCrashStates({ ...replaceScenario(VALUES), seed: 42 });
    const second = await exploreCrashStates({ ...replaceScenario(VALUES), seed: 42 });
    expect(second.summary).toBe(first.summary);
  });

  it("makes the set-up durable and does not count its calls", async () => {
    const atPointZero: string[][] = [];
    const report = await exploreCrashStates<string>({
      setup: async (fs) => {
        await fs.mkdir("/data/deep", { recursive: true });
        await replaceFile(fs, PATH, "from an earlier run", { skipDirectoryFsync: true });
      },
      scenario: async ({ fs }) => {
        await fs.readFile(PATH);
      },
      check: ({ fs, crashPoint }) => {
        if (crashPoint === 0) atPointZero.push(fs.entries().map((entry) => entry.path));
      },
    });
    expect(report.calls).toBe(1);
    expect(atPointZero).toEqual([["/data", "/data/deep", "/data/state"]]);
  });

  it("records nothing as resolved when a tracked operation rejects", async () => {
    const promisedAtEnd: string[][] = [];
    const report = await exploreCrashStates<string>({
      scenario: async ({ fs, track }) => {
        await expect(track("doomed", () => fs.readFile("/missing"))).rejects.toMatchObject({
          code: "ENOENT",
        });
      },
      check: ({ promised, started, crashPoint, model }) => {
        if (crashPoint === 1 && model === "prefix") promisedAtEnd.push([...promised], [...started]);
      },
      deduplicate: false,
    });
    expect(report.promisesResolved).toBe(0);
    expect(promisedAtEnd).toEqual([[], ["doomed"]]);
  });

  it("passes on what the scenario throws", async () => {
    await expect(
      exploreCrashStates({
        scenario: async () => {
          throw new Error("scenario bug");
        },
        check: () => {},
      }),
    ).rejects.toThrow("scenario bug");
  });

  it("rejects bad options naming them", async () => {
    const base = { scenario: async () => {}, check: () => {} };
    await expect(exploreCrashStates(null as never)).rejects.toThrow(TypeError);
    await expect(exploreCrashStates({ ...base, scenario: 1 as never })).rejects.toThrow(/scenario/);
    await expect(exploreCrashStates({ ...base, check: undefined as never })).rejects.toThrow(
      /check/,
    );
    await expect(exploreCrashStates({ ...base, setup: "x" as never })).rejects.toThrow(/setup/);
    await expect(exploreCrashStates({ ...base, limits: { maxStates: 0 } })).rejects.toThrow(
      /maxStates/,
    );
    await expect(exploreCrashStates({ ...base, limits: { maxFailures: 1.5 } })).rejects.toThrow(
      /maxFailures/,
    );
    await expect(exploreCrashStates({ ...base, limits: { maxSubsets: -1 } })).rejects.toThrow(
      /maxSubsets/,
    );
    await expect(exploreCrashStates({ ...base, seed: Number.NaN })).rejects.toThrow(/seed/);
    await expect(exploreCrashStates({ ...base, models: ["sometimes" as never] })).rejects.toThrow(
      /unknown model/,
    );
  });
});
