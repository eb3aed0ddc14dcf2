// Power-loss runs of the audit trail: a scenario of records runs on core's
// crash-state filesystem, a power cut is simulated after every filesystem
// call under every model (prefix, order-keeping subset, torn write), and a
// fresh AuditTrail recovers from each crash image. Shared by
// power-loss.test.ts and the fail-stop runs.
//
// What the trail promises across a power cut, as checked here:
// 1. initialize() never throws: a power cut is not damage. The only thing it
//    may cut is a torn last line (recordsLost <= 1), and AUDIT_CORRUPT (or
//    any other error) from a crash image is a broken protocol, not a
//    legitimate outcome. verifyChain() is then valid.
// 2. Every recordIntent(), recordResult(), recordDenied() (and the
//    signing_started record of startSigning()) that resolved before the cut
//    is in the history, with its fields; nothing is there that no call
//    started; seqs run 1, 2, 3, … over the rotated files and the current one.
// 3. A resolved intent whose result was never started is pending
//    (getPendingIntents()); one whose result is in the history is not; a
//    resolved result is found by findResultByDedupeKey().
// 4. A second recovery from the same image finds the same history, and the
//    recovered trail takes a new record that a third trail finds.
import { join } from "node:path";
import {
  type CrashCheckContext,
  type CrashExplorationLimits,
  type CrashExplorationReport,
  type CrashScenarioContext,
  type CrashStateFileSystem,
  createCrashStateFileSystem,
  exploreCrashStates,
  type FileSystem,
  type FileSystemCall,
  ManualClock,
} from "@beauvoir/core";
import {
  exploreEveryKillPoint,
  type KilledRunsReport,
  runKilledProcess,
} from "../../core/test/power-loss-kill-points.js";
import { type AuditRecord, AuditTrail, startSigning } from "../src/index.js";

/** One call of a scenario. Each is identified by its `id`, written as the record's target (results: in `result`). */
export type AuditOperation =
  | { readonly kind: "intent"; readonly id: string }
  | { readonly kind: "result"; readonly id: string; readonly of: string }
  | { readonly kind: "denied"; readonly id: string }
  /** A dry run resolves before its fsync, by design: started, never promised durable. */
  | { readonly kind: "dryRun"; readonly id: string }
  /** startSigning() on the history (needs {@link AuditLayout.hmacKey} and an unsigned earlier history). */
  | { readonly kind: "startSigning"; readonly id: string };

/** Where the trail lives, and what exists before the scenario. */
export interface AuditLayout {
  /** The current file. */
  readonly path: string;
  /** Directories that exist, durably, before the scenario (the rest are missing). */
  readonly existingDirectories: readonly string[];
  /** Intent/result pairs written, durably, by an earlier run before the scenario (unsigned with `earlierUnsigned`). */
  readonly earlierPairs?: number;
  /** The earlier run had no key (a startSigning() switch is then needed). */
  readonly earlierUnsigned?: boolean;
  /** The earlier run died in the middle of a write: its last line is torn, durably. */
  readonly earlierTornTail?: boolean;
  /** @default Infinity (no rotation) */
  readonly maxSizeBytes?: number;
  readonly hmacKey?: string;
  /** Largest write the filesystem takes at once. @default Infinity */
  readonly maxBytesPerWrite?: number;
  /**
   * A first process runs the scenario and is killed (SIGKILL: the page cache
   * stays) after this many of its calls; a second one then runs the scenario
   * again on the same disk, with new ids. The power cut comes later.
   */
  readonly killedAfterCalls?: number;
}

/** A scenario: groups of operations; the operations of a group start at once (they share fsyncs). */
export type AuditScenario = readonly (readonly AuditOperation[])[];

export const START = Date.UTC(2026, 1, 8, 10, 15);
const ACTION = "add_issue_comment";
const EARLIER = "earlier";
const keepEverything = { redactAny: (value: unknown) => value };
/** About 250 bytes of params, so a record spans part of a sector and batches cross sector boundaries. */
const paramsOf = (id: string) => ({ id, body: `comment ${id} `.repeat(12) });
export const dedupeKeyOf = (id: string): string => `key-${id}`;

export function openTrail(
  layout: AuditLayout,
  fs: FileSystem,
  clock: ManualClock,
  hmacKey: string | null = layout.hmacKey ?? null,
): AuditTrail {
  return new AuditTrail({
    path: layout.path,
    fs,
    clock,
    redactor: keepEverything,
    maxSizeBytes: layout.maxSizeBytes ?? Number.POSITIVE_INFINITY,
    ...(hmacKey === null ? {} : { hmacKey }),
  });
}

/** Runs one operation on an open trail; `seqs` maps each intent's id to its seq (set here). */
export async function perform(
  trail: AuditTrail,
  operation: AuditOperation,
  seqs: Map<string, number>,
  startSigningOn: () => Promise<unknown>,
): Promise<void> {
  switch (operation.kind) {
    case "intent": {
      const seq = await trail.recordIntent({
        action: ACTION,
        target: operation.id,
        params: paramsOf(operation.id),
        dedupeKey: dedupeKeyOf(operation.id),
      });
      seqs.set(operation.id, seq);
      return;
    }
    case "result":
      await trail.recordResult(seqs.get(operation.of)!, { id: operation.id });
      return;
    case "denied":
      await trail.recordDenied({
        action: ACTION,
        target: operation.id,
        params: paramsOf(operation.id),
        reason: `policy refused ${operation.id}`,
      });
      return;
    case "dryRun":
      await trail.recordDryRun({
        action: ACTION,
        target: operation.id,
        params: paramsOf(operation.id),
      });
      return;
    case "startSigning":
      await startSigningOn();
  }
}

/**
 * Writes the durable history an earlier run left: `earlierPairs` intent/result
 * pairs, then (with `earlierTornTail`) half of one more line.
 */
async function writeEarlierHistory(
  fs: CrashStateFileSystem,
  layout: AuditLayout,
  clock: ManualClock,
) {
  for (const directory of layout.existingDirectories)
    await fs.mkdir(directory, { recursive: true });
  const pairs = layout.earlierPairs ?? 0;
  if (pairs === 0 && !layout.earlierTornTail) return;
  const trail = openTrail(layout, fs, clock, layout.earlierUnsigned ? null : layout.hmacKey);
  await trail.initialize();
  const seqs = new Map<string, number>();
  for (let pair = 1; pair <= pairs; pair++) {
    const id = `${EARLIER}-${pair}`;
    await perform(trail, { kind: "intent", id }, seqs, async () => {});
    await perform(trail, { kind: "result", id: `${id}-done`, of: id }, seqs, async () => {});
  }
  await trail.close();
  if (layout.earlierTornTail) {
    const file = await fs.open(layout.path, "a");
    await file.write(
      Buffer.from(`{"action":"${ACTION}","dedupeKey":"key-torn","dryRun":false,"par`),
    );
    await file.close();
  }
}

/** Every record of the history, oldest first: the rotated files in name order, then the current file. */
export async function readHistory(fs: FileSystem, path: string): Promise<AuditRecord[]> {
  const directory = join(path, "..");
  const name = path.slice(directory.length + 1);
  const stem = name.replace(/\.jsonl$/, "");
  const segments = (await fs.readdir(directory))
    .filter((entry) => entry.startsWith(`${stem}.`) && entry !== name && entry.endsWith(".jsonl"))
    .sort();
  const records: AuditRecord[] = [];
  for (const file of [...segments, name]) {
    let text: string;
    try {
      text = (await fs.readFile(join(directory, file))).toString("utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    for (const line of text.split("\n").filter((line) => line !== "")) {
      records.push(JSON.parse(line) as AuditRecord);
    }
  }
  return records;
}

/** The id a record carries (its target, or for a result the id in its result), or the signing switch. */
const idOf = (record: AuditRecord): string =>
  record.phase === "result"
    ? String((record.result as { id?: unknown } | undefined)?.id)
    : record.phase === "signing_started"
      ? "signing_started"
      : record.target;

const phaseOf: Record<AuditOperation["kind"], AuditRecord["phase"]> = {
  intent: "intent",
  result: "result",
  denied: "denied",
  dryRun: "dry_run",
  startSigning: "signing_started",
};

/**
 * Checks promises 2 and 3 on a recovered trail and the records of its history.
 * @returns a summary of the history, to compare two recoveries.
 */
export async function checkHistory(
  layout: AuditLayout,
  trail: AuditTrail,
  fs: FileSystem,
  { promised, started }: Pick<CrashCheckContext<AuditOperation>, "promised" | "started">,
): Promise<string> {
  const verification = await trail.verifyChain();
  if (!verification.valid) {
    throw new Error(`verifyChain() after recovery: ${JSON.stringify(verification)}`);
  }
  const records = await readHistory(fs, layout.path);
  records.forEach((record, index) => {
    if (record.seq !== index + 1) throw new Error(`record ${index + 1} has seq ${record.seq}`);
  });
  const byId = new Map(records.map((record) => [idOf(record), record]));
  const startedIds = new Set(started.map((operation) => operation.id));
  for (const record of records) {
    const id = idOf(record);
    if (id.startsWith(EARLIER) || id === "signing_started" || startedIds.has(id)) continue;
    throw new Error(
      `record ${record.seq} (${record.phase} ${id}) was written by no call that started`,
    );
  }
  for (const operation of promised) {
    if (operation.kind === "dryRun") continue;
    const id = operation.kind === "startSigning" ? "signing_started" : operation.id;
    const record = byId.get(id);
    if (record?.phase !== phaseOf[operation.kind]) {
      throw new Error(
        `${operation.kind} ${operation.id} resolved but recovery found ${record ? record.phase : "nothing"}`,
      );
    }
    if (operation.kind === "result") {
      const intent = byId.get(operation.of);
      if (intent?.phase !== "intent" || record.intentSeq !== intent.seq) {
        throw new Error(
          `result ${operation.id} does not close intent ${operation.of} (seq ${intent?.seq})`,
        );
      }
      const found = await trail.findResultByDedupeKey(dedupeKeyOf(operation.of));
      if (found?.intentSeq !== intent.seq) {
        throw new Error(
          `findResultByDedupeKey(${dedupeKeyOf(operation.of)}) gave ${JSON.stringify(found)}`,
        );
      }
    }
  }
  const pending = new Set(trail.getPendingIntents().map((intent) => intent.target));
  for (const operation of promised) {
    if (operation.kind !== "intent") continue;
    const closed = records.some(
      (record) => record.phase === "result" && record.intentSeq === byId.get(operation.id)?.seq,
    );
    if (closed === pending.has(operation.id)) {
      throw new Error(
        `intent ${operation.id}: result in history ${closed}, pending ${pending.has(operation.id)}`,
      );
    }
  }
  // Not the hashes: a switch that recovery writes again (see recover) has the time of the system clock.
  return records.map((record) => `${record.seq}:${record.phase}:${idOf(record)}`).join(",");
}

/**
 * The key a trail opened after the cut uses: over an unsigned earlier
 * history, none until startSigning() was called (when it was called and did
 * not resolve, the operator runs it again: see {@link recover}).
 */
function keyAfterTheCut(
  layout: AuditLayout,
  { started }: Pick<CrashCheckContext<AuditOperation>, "started">,
): string | null {
  if (layout.hmacKey === undefined) return null;
  if (!layout.earlierUnsigned) return layout.hmacKey;
  return started.some((operation) => operation.kind === "startSigning") ? layout.hmacKey : null;
}

async function recover(
  layout: AuditLayout,
  fs: CrashStateFileSystem,
  clock: ManualClock,
  context: Pick<CrashCheckContext<AuditOperation>, "promised" | "started">,
): Promise<{ history: string; lastSeq: number }> {
  const key = keyAfterTheCut(layout, context);
  const switching = (operation: AuditOperation) => operation.kind === "startSigning";
  if (key !== null && context.started.some(switching) && !context.promised.some(switching)) {
    // The switch was cut short: the operator runs start-signing again.
    await startSigning({ path: layout.path, hmacKey: key, fs });
  }
  const trail = openTrail(layout, fs, clock, key);
  try {
    let report: Awaited<ReturnType<AuditTrail["initialize"]>>;
    try {
      report = await trail.initialize();
    } catch (error) {
      const { code, reason } = error as { code?: string; reason?: string };
      throw new Error(
        `initialize() threw ${code ?? ""} ${reason ?? ""}: ${(error as Error).message}`,
      );
    }
    if (report.recordsLost > 1) throw new Error(`recovery cut ${report.recordsLost} records`);
    const history = await checkHistory(layout, trail, fs, context);
    return { history, lastSeq: report.lastSeq };
  } finally {
    await trail.close();
  }
}

/** Promises 1 to 4 on one crash image. */
async function checkRecovery(
  layout: AuditLayout,
  context: CrashCheckContext<AuditOperation>,
): Promise<void> {
  const clock = new ManualClock(context.crashedAt + 1_000);
  const first = await recover(layout, context.fs, clock, context);
  const second = await recover(layout, context.freshImage(), clock, context);
  if (second.history !== first.history) {
    throw new Error(`two recoveries of one image disagree:\n${first.history}\n${second.history}`);
  }
  const key = keyAfterTheCut(layout, context);
  const after = openTrail(layout, context.fs, clock, key);
  let seq: number;
  try {
    await after.initialize();
    seq = await after.recordIntent({ action: ACTION, target: "after-the-cut", params: {} });
  } finally {
    await after.close();
  }
  if (seq !== first.lastSeq + 1)
    throw new Error(`the record after the cut got seq ${seq}, not ${first.lastSeq + 1}`);
  const third = openTrail(layout, context.fs, clock, key);
  try {
    const report = await third.initialize();
    const verification = await third.verifyChain();
    if (report.lastSeq !== seq || report.recordsLost !== 0 || !verification.valid) {
      throw new Error(`after a new record: ${JSON.stringify({ report, verification })}`);
    }
  } finally {
    await third.close();
  }
}

/** Limits of every audit run: small enough for well under a second per run on a loaded machine. */
export const AUDIT_LIMITS: CrashExplorationLimits = Object.freeze({
  maxSubsets: 32,
  sectorTearsPerWrite: 4,
  randomTearsPerWrite: 1,
  maxStates: 20_000,
});

/**
 * Runs `scenario` on `context.fs`: one trail, initialized, the groups in
 * order (the operations of a group at once), closed at the end.
 */
export async function runScenario(
  layout: AuditLayout,
  scenario: AuditScenario,
  { fs, track, started }: Pick<CrashScenarioContext<AuditOperation>, "fs" | "track" | "started">,
  clock: ManualClock,
  trailFs: FileSystem = fs,
): Promise<void> {
  let trail = openTrail(layout, trailFs, clock, layout.earlierUnsigned ? null : layout.hmacKey);
  await trail.initialize();
  const seqs = new Map<string, number>();
  const startSigningOn = async () => {
    // startSigning takes the file like a writer: the trail gives it up, and a keyed one takes over.
    await trail.close();
    const report = await startSigning({ path: layout.path, hmacKey: layout.hmacKey!, fs: trailFs });
    if (!report.started) throw new Error("startSigning() found nothing to sign");
    trail = openTrail(layout, trailFs, clock);
    await trail.initialize();
  };
  try {
    for (const group of scenario) {
      await Promise.all(
        group.map((operation) => {
          clock.advance(1);
          const run = () => perform(trail, operation, seqs, startSigningOn);
          if (operation.kind === "dryRun") {
            started(operation);
            return run();
          }
          return track(operation, run);
        }),
      );
    }
  } finally {
    await trail.close();
  }
}

/**
 * Explores every crash state of a scenario from the given layout.
 * @param layout - the trail's path and what exists before.
 * @param scenario - groups of operations, in order.
 * @param limits - bounds of the exploration.
 * @returns the exploration's report.
 */
export function explorePowerLoss(
  layout: AuditLayout,
  scenario: AuditScenario,
  limits: CrashExplorationLimits = AUDIT_LIMITS,
): Promise<CrashExplorationReport> {
  return exploreAuditRun(
    layout,
    async (context, clock) => {
      if (layout.killedAfterCalls !== undefined) {
        await runKilledProcess(context.fs, layout.killedAfterCalls, (killed) =>
          runScenario(layout, renamed(scenario, "killed"), context, clock, killed),
        );
      }
      await runScenario(layout, scenario, context, clock);
    },
    limits,
  );
}

/**
 * Explores every crash state of a run written by hand (a fail stop, a
 * reopen): `run` records what it was promised on the context, and every
 * trail it opens must be closed when it ends.
 */
export function exploreAuditRun(
  layout: AuditLayout,
  run: (context: CrashScenarioContext<AuditOperation>, clock: ManualClock) => Promise<void>,
  limits: CrashExplorationLimits = AUDIT_LIMITS,
): Promise<CrashExplorationReport> {
  const clock = new ManualClock(START);
  return exploreCrashStates<AuditOperation>({
    fileSystem: { clock, maxBytesPerWrite: layout.maxBytesPerWrite },
    limits,
    setup: (fs) => writeEarlierHistory(fs, layout, clock),
    scenario: (context) => run(context, clock),
    check: (context) => checkRecovery(layout, context),
  });
}

/** `count` intents, each followed by its result, one after the other. */
export function pairs(count: number, prefix = "op"): AuditOperation[][] {
  return Array.from(
    { length: count },
    (_, index) =>
      [
        [{ kind: "intent", id: `${prefix}-${index + 1}` }],
        [{ kind: "result", id: `${prefix}-${index + 1}-done`, of: `${prefix}-${index + 1}` }],
      ] as AuditOperation[][],
  ).flat();
}

/** `writers` intents at once, then their results at once, then `writers` denials at once. */
export function concurrentWriters(writers: number): AuditOperation[][] {
  const ids = Array.from({ length: writers }, (_, index) => `w-${index + 1}`);
  return [
    ids.map((id) => ({ kind: "intent", id })),
    ids.map((id) => ({ kind: "result", id: `${id}-done`, of: id })),
    ids.map((id) => ({ kind: "denied", id: `${id}-denied` })),
  ];
}

/** The same scenario with every id prefixed (for a second process running it again). */
function renamed(scenario: AuditScenario, prefix: string): AuditScenario {
  return scenario.map((group) =>
    group.map((operation) =>
      operation.kind === "result"
        ? { ...operation, id: `${prefix}-${operation.id}`, of: `${prefix}-${operation.of}` }
        : { ...operation, id: `${prefix}-${operation.id}` },
    ),
  );
}

/**
 * The filesystem calls one uninterrupted run of `scenario` makes from
 * `layout` (initialize, the records, close): the crash points of a killed
 * first process are after 0 … that many of them.
 */
export async function scenarioCalls(
  layout: AuditLayout,
  scenario: AuditScenario,
): Promise<readonly FileSystemCall[]> {
  const clock = new ManualClock(START);
  const fs = createCrashStateFileSystem({ clock });
  await writeEarlierHistory(fs, layout, clock);
  const before = fs.calls.length;
  const ignore = () => {};
  await runScenario(
    layout,
    scenario,
    { fs, track: (_value, run) => run(), started: ignore },
    clock,
  );
  return fs.calls.slice(before);
}

/**
 * For each kill point of an uninterrupted run (0, and every call that
 * changed something): a first process runs `scenario` and is killed after
 * that call, a second one runs it again, and every crash state of the whole
 * is checked.
 */
export async function exploreKilledFirstProcess(
  layout: AuditLayout,
  scenario: AuditScenario,
): Promise<KilledRunsReport> {
  return exploreEveryKillPoint(await scenarioCalls(layout, scenario), (killedAfterCalls) =>
    explorePowerLoss({ ...layout, killedAfterCalls }, scenario),
  );
}
