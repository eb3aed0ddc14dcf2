// A process SIGKILLed after each of its filesystem calls, before a power cut:
// the kill keeps the page cache (what the dead process wrote but did not make
// durable stays visible to the next process), and the power cut then drops
// what nobody made durable. Shared by the power-loss runs of the audit trail
// and of the idempotency index, which run a first process killed after k
// calls (`runKilledProcess`) over the crash-state filesystem, then a second
// one, and explore the power cuts of the whole.
import {
  type CrashExplorationReport,
  createFaultyFileSystem,
  type FileSystem,
  type FileSystemCall,
} from "@beauvoir/core";

/** Calls that change nothing a later process could see. */
const READ_ONLY: ReadonlySet<FileSystemCall["operation"]> = new Set([
  "readFile",
  "readdir",
  "stat",
  "handleStat",
  "handleReadFile",
  "close",
]);

/**
 * The kill points worth a run: 0 (killed before its first call) and every k
 * whose call k changed something. A kill right after a read, a stat or a
 * close leaves the page cache as the kill before it did.
 * @param calls - the calls of one uninterrupted run of the first process.
 * @returns the values of `crashAfterCalls` to try.
 */
export function killPoints(calls: readonly FileSystemCall[]): number[] {
  return [0, ...calls.flatMap((call, index) => (READ_ONLY.has(call.operation) ? [] : [index + 1]))];
}

/** What {@link exploreEveryKillPoint} found. */
export interface KilledRunsReport {
  /** Explorations run: one per kill point. */
  readonly runs: number;
  /** Crash states checked over all of them. */
  readonly statesExplored: number;
  /** The first failure of each kill point that had one. */
  readonly failures: readonly string[];
  readonly summary: string;
}

/**
 * Runs `explore(k)` for every kill point of `calls` and sums the reports up.
 * @param calls - the calls of one uninterrupted run of the first process.
 * @param explore - the exploration with the first process killed after `k` calls.
 * @returns the counts and the first failure of each kill point.
 */
export async function exploreEveryKillPoint(
  calls: readonly FileSystemCall[],
  explore: (killedAfterCalls: number) => Promise<CrashExplorationReport>,
): Promise<KilledRunsReport> {
  const points = killPoints(calls);
  const failures: string[] = [];
  let statesExplored = 0;
  for (const killedAfterCalls of points) {
    const report = await explore(killedAfterCalls);
    statesExplored += report.statesExplored;
    const first = report.failures[0];
    if (first) failures.push(`killed after ${killedAfterCalls}: ${first.message}`);
  }
  return {
    runs: points.length,
    statesExplored,
    failures,
    summary: `${statesExplored} crash states checked over ${points.length} kill points, ${failures.length} with a failure`,
  };
}

/**
 * Runs a first process on `base` that is killed after `killedAfterCalls`
 * filesystem calls: every later call fails as a crash, which is the expected
 * end of the run; any other failure of `run` is not, and is thrown.
 * @param base - the filesystem the process runs on (a crash-state one).
 * @param killedAfterCalls - how many calls it makes before the kill.
 * @param run - the process, on the filesystem it is killed on.
 */
export async function runKilledProcess(
  base: FileSystem,
  killedAfterCalls: number,
  run: (killed: FileSystem) => Promise<void>,
): Promise<void> {
  const killed = createFaultyFileSystem({ base, crashAfterCalls: killedAfterCalls });
  await run(killed).catch((error: unknown) => {
    if (!killed.crashed) throw error;
  });
}
