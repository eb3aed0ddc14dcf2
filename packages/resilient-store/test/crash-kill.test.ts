// Real crashes: a child process runs set() in a loop and is killed with SIGKILL
// at a random moment; after each kill a fresh store (real filesystem) must read
// exactly one of the values a set() was given, never a mix, never an older
// value than one already durable, and never null once a set() resolved.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { ResilientJsonStore } from "../src/index.js";
import { listDir, makeTempDir } from "./helpers.js";

const fixture = fileURLToPath(new URL("./fixtures/set-loop.mjs", import.meta.url));
const built = fileURLToPath(new URL("../dist/index.js", import.meta.url));

const soak = Boolean(process.env.BEAUVOIR_SOAK);
const LANES = 4;
const POOL_SIZE = 3;
const KILLS_PER_LANE = soak ? 500 : 50;

// Node parses NODE_EXTRA_CA_CERTS at start-up (tens of ms of CPU); the child does no TLS.
const { NODE_EXTRA_CA_CERTS: _unused, ...childEnvironment } = process.env;

interface Value {
  run: number;
  seq: number;
  items: string[];
}

/** Must match payloadOf() in fixtures/set-loop.mjs. */
function payloadOf(run: number, seq: number): string[] {
  const length = 1 + ((run * 31 + seq * 17) % 40);
  return Array.from(
    { length },
    (_, index) => `${run}:${seq}:${index}:${"x".repeat((seq * 7 + index * 13) % 300)}`,
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A child started ahead of time: loaded and ready, waiting for "go". */
class LoopChild {
  readonly #child: ChildProcess;
  #output = "";
  #errors = "";
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;

  constructor(path: string) {
    this.#child = spawn(process.execPath, [fixture, path], {
      stdio: ["pipe", "pipe", "pipe"],
      env: childEnvironment,
    });
    this.closed = new Promise((resolve) => this.#child.once("close", () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      this.#child.stdout!.on("data", (chunk: Buffer) => {
        this.#output += chunk.toString();
        if (this.#output.startsWith("ready\n")) resolve();
      });
      this.#child.once("exit", (code) =>
        reject(new Error(`child exited before it was ready (${code}): ${this.#errors}`)),
      );
    });
    // Pool leftovers are killed unused; their readiness is then of no interest.
    this.ready.catch(() => {});
    this.#child.stderr!.on("data", (chunk: Buffer) => {
      this.#errors += chunk.toString();
    });
  }

  /**
   * Starts the set() loop and kills the child 0-30 ms later: counted from the
   * start (hitting the first load and write), or, when `afterFirstWrite`, from
   * the first resolved set() (hitting later writes, with a durable value to keep).
   * @returns the last seq the child reported as resolved.
   */
  async goAndKill(run: number, afterFirstWrite: boolean): Promise<number> {
    await withTimeout(this.ready, 20_000, "a child to be ready");
    this.#child.stdin!.write(`go ${run}\n`);
    if (afterFirstWrite) {
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = () => {
            if (this.#output.includes("ok 1\n")) {
              this.#child.stdout!.off("data", check);
              resolve();
            }
          };
          this.#child.stdout!.on("data", check);
          check();
        }),
        20_000,
        "the child's first set()",
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
    await this.kill();
    expect(this.#errors).toBe("");
    const seqs = [...this.#output.matchAll(/^ok (\d+)$/gm)].map((match) => Number(match[1]));
    return seqs.at(-1) ?? 0;
  }

  /** SIGKILL, then wait until the process is gone and its pipes are drained. */
  async kill(): Promise<void> {
    this.#child.kill("SIGKILL");
    await withTimeout(this.closed, 10_000, "a killed child to close");
  }
}

async function lane(
  laneNumber: number,
): Promise<{ kills: number; resolvedSets: number; recovered: number }> {
  const { dir, remove } = await makeTempDir();
  const path = join(dir, "state.json");
  // Node takes far longer to start than a kill cycle, so children are started
  // a few runs ahead and wait, loaded, for their turn.
  const pool = Array.from({ length: POOL_SIZE }, () => new LoopChild(path));
  let anyResolved = false;
  let resolvedSets = 0;
  let recovered = 0;
  let last: { run: number; seq: number } | null = null;
  try {
    for (let run = 1; run <= KILLS_PER_LANE; run++) {
      const child = pool.shift()!;
      if (run + pool.length < KILLS_PER_LANE) pool.push(new LoopChild(path));
      const lastOk = await child.goAndKill(run, run % 2 === 0);
      resolvedSets += lastOk;
      anyResolved ||= lastOk > 0;
      const value = await new ResilientJsonStore<Value>({ path }).get();
      const where = `lane ${laneNumber}, run ${run}, last resolved seq ${lastOk}: read ${JSON.stringify(value && { run: value.run, seq: value.seq })}`;
      if (anyResolved) expect(value, where).not.toBeNull();
      if (value === null) continue;
      recovered++;
      // Exactly one value some set() was given: no mix of two writes, no torn file.
      expect(Object.keys(value).sort(), where).toEqual(["items", "run", "seq"]);
      expect(value.items, where).toEqual(payloadOf(value.run, value.seq));
      expect(value.run, where).toBeLessThanOrEqual(run);
      if (value.run === run) {
        // The last resolved set() is durable; at most the one in flight is newer.
        expect(value.seq, where).toBeGreaterThanOrEqual(Math.max(lastOk, 1));
        expect(value.seq, where).toBeLessThanOrEqual(lastOk + 1);
      } else {
        expect(lastOk, where).toBe(0);
      }
      // Never older than what a previous read already saw.
      if (last) {
        const notOlder = value.run > last.run || (value.run === last.run && value.seq >= last.seq);
        expect(notOlder, where).toBe(true);
      }
      last = { run: value.run, seq: value.seq };
    }
    // SIGKILL never corrupts a file of the protocol, so nothing was quarantined.
    expect((await listDir(dir)).filter((entry) => entry.includes("quarantine"))).toEqual([]);
    // A fresh writer cleans up every leftover tmp file.
    const store = new ResilientJsonStore<Value>({ path });
    await store.set({ run: 0, seq: 0, items: [] });
    expect(await listDir(dir)).toEqual(["state.json", "state.json.bak"]);
    return { kills: KILLS_PER_LANE, resolvedSets, recovered };
  } finally {
    await Promise.all(pool.map((child) => child.kill()));
    await remove();
  }
}

it(
  `survives ${LANES * KILLS_PER_LANE} SIGKILLs of a process looping on set()`,
  async () => {
    if (!existsSync(built)) {
      throw new Error(`${built} is missing: build the package first (pnpm build)`);
    }
    const results = await Promise.all(Array.from({ length: LANES }, (_, index) => lane(index + 1)));
    const kills = results.reduce((sum, result) => sum + result.kills, 0);
    expect(kills).toBeGreaterThanOrEqual(200);
    // The kills must land while writes are happening, not only before the first one.
    expect(results.reduce((sum, result) => sum + result.resolvedSets, 0)).toBeGreaterThan(
      kills / 2,
    );
    expect(results.every((result) => result.recovered > KILLS_PER_LANE / 2)).toBe(true);
  },
  soak ? 1_800_000 : 60_000,
);
