import { type CrashState, resolveModels } from "./crash-state-capture.js";
import {
  type CrashFileSystemFactoryOptions,
  type CrashStateFileSystem,
  createCrashStateFileSystem,
} from "./crash-state-file-system.js";
import {
  CRASH_MODELS,
  type CrashImageLimits,
  type CrashImagePlan,
  type CrashModel,
  resolveImageLimits,
} from "./crash-state-images.js";
import type { PendingOperation } from "./crash-state-operations.js";
import type { FileSystemCall } from "./faulty-file-system.js";
import { ManualClock } from "./manual-clock.js";

/** What a scenario gets: the filesystem to run on, and a way to say what it was promised. */
export interface CrashScenarioContext<P> {
  /** The crash-state filesystem; pass it as the `fs` option of the code under test. */
  readonly fs: CrashStateFileSystem;
  /** Records that an operation started; whatever it writes may be on disk from now on. */
  started(value: P): void;
  /** Records that an operation's promise resolved: recovery must find what it promised. */
  resolved(value: P): void;
  /**
   * `started(value)`, then `run()`, then `resolved(value)` once it resolves
   * (a rejection is passed on and nothing is recorded as resolved).
   */
  track<T>(value: P, run: () => Promise<T>): Promise<T>;
}

/** What a check gets: one crash image, and what had been promised before that crash. */
export interface CrashCheckContext<P> {
  /** A fresh filesystem holding the crash image, everything durable: recover from it. */
  readonly fs: CrashStateFileSystem;
  /**
   * Another fresh filesystem holding the same image, as the power cut left it
   * (whatever the check did on `fs`): for a second, independent recovery.
   */
  freshImage(): CrashStateFileSystem;
  /** Values recorded with `resolved()` before the power cut, in order. */
  readonly promised: readonly P[];
  /** Values recorded with `started()` before the power cut, in order. */
  readonly started: readonly P[];
  /** How many of the scenario's calls had taken effect at the power cut (0 … N). */
  readonly crashPoint: number;
  /** The last of those calls. */
  readonly lastCall: FileSystemCall | undefined;
  /**
   * The time of the filesystem's clock (`fileSystem.clock`) at the power
   * cut: a recovery that judges ages (of locks, of records) starts from it.
   */
  readonly crashedAt: number;
  readonly model: CrashModel;
  /** How the image was chosen, e.g. `"subset {3,5} of 5"`. */
  readonly image: string;
  /** The operations that were not durable at the power cut. */
  readonly pendingOperations: readonly PendingOperation[];
  /** Which of them the image holds whole. */
  readonly applied: readonly number[];
}

/** Bounds of one exploration. */
export interface CrashExplorationLimits extends CrashImageLimits {
  /** Stops after this many checks; the report then says `truncated`. @default 50_000 */
  maxStates?: number | undefined;
  /** Stops after this many failed checks. @default 5 */
  maxFailures?: number | undefined;
}

/** Options of {@link exploreCrashStates}. */
export interface CrashExplorationOptions<P> {
  /**
   * Builds the disk as it was before the scenario (files of an earlier run, a
   * directory that exists). Everything it does is made durable, and its calls
   * are not crash points.
   * @default nothing (an empty disk)
   */
  setup?: ((fs: CrashStateFileSystem) => unknown) | undefined;
  /** Runs the code under test once, on `context.fs`, recording what it was promised. */
  scenario: (context: CrashScenarioContext<P>) => Promise<unknown>;
  /**
   * Recovers from one crash image and throws when a promise is broken. Runs
   * once per distinct (image, promises) pair.
   */
  check: (context: CrashCheckContext<P>) => unknown;
  /** @default ["prefix", "subset", "torn"] */
  models?: readonly CrashModel[] | undefined;
  /** @default {@link CRASH_EXPLORATION_LIMIT_DEFAULTS} */
  limits?: CrashExplorationLimits | undefined;
  /** Seeds the sampled subsets and the random tears. @default 1 */
  seed?: number | undefined;
  /**
   * Options of the filesystem the scenario runs on (and of every image). Its
   * `clock` gives the mtimes and `crashedAt`; pass the clock the code under
   * test uses when time matters to it.
   * @default { clock: a ManualClock frozen at the real time the exploration starts }
   */
  fileSystem?: CrashFileSystemFactoryOptions | undefined;
  /**
   * Checks an image only once per distinct content, promises and `crashedAt`
   * (the same state reached at several crash points or by several models).
   * @default true
   */
  deduplicate?: boolean | undefined;
}

/** Defaults of {@link CrashExplorationLimits} beyond the image limits. */
export const CRASH_EXPLORATION_LIMIT_DEFAULTS = Object.freeze({
  maxStates: 50_000,
  maxFailures: 5,
});

/** One crash state whose check failed, with what it takes to reproduce it. */
export interface CrashStateFailure {
  readonly crashPoint: number;
  readonly lastCall: FileSystemCall | undefined;
  readonly model: CrashModel;
  readonly image: string;
  /** Descriptions of the pending operations, each marked applied, torn or lost. */
  readonly pendingOperations: readonly string[];
  readonly promised: readonly unknown[];
  /** What the check threw. */
  readonly error: unknown;
  /** All of the above as text. */
  readonly message: string;
}

/** What an exploration did. */
export interface CrashExplorationReport {
  /** Calls the scenario made. */
  readonly calls: number;
  /** Moments a power cut was simulated at: after 0, 1, … `calls` calls. */
  readonly crashPoints: number;
  /** Crash images made, duplicates included. */
  readonly imagesGenerated: number;
  /** Checks run: distinct crash states explored. */
  readonly statesExplored: number;
  /** Images skipped as a state already checked. */
  readonly duplicatesSkipped: number;
  /** Checks run per model (a state reached by several models counts for the first). */
  readonly statesByModel: Readonly<Record<CrashModel, number>>;
  /** Crash points whose subsets were sampled because there were more than `maxSubsets`. */
  readonly sampledCrashPoints: number;
  /** The most operations pending at one crash point. */
  readonly maxPendingOperations: number;
  /** Values the scenario recorded with `resolved()`. */
  readonly promisesResolved: number;
  /** Whether `maxStates` or `maxFailures` stopped the exploration early. */
  readonly truncated: boolean;
  readonly failures: readonly CrashStateFailure[];
  /** One line with the counts, for a test log. */
  readonly summary: string;
}

interface RecordedValue<P> {
  readonly value: P;
  /** Scenario calls that had taken effect when it was recorded. */
  readonly afterCalls: number;
}

/**
 * Runs a scenario once on a crash-state filesystem, captures the disk after
 * every filesystem call it makes (a power cut after call 0, 1, … N), makes
 * the crash images of each capture under each model, and runs `check` on
 * each distinct image with what the scenario had been promised by then.
 *
 * A value recorded with `resolved()` counts as promised at crash point k
 * when at most k calls had taken effect at the time: the power cut came
 * after its promise resolved. Calls are effective when they are made (the
 * filesystem is in memory), so one run gives every crash point.
 * @param options - set-up, scenario, check, models, limits, seed.
 * @returns the counts and the failures (up to `maxFailures`).
 * @throws what the scenario throws (it runs without faults, so that is a bug in it or in the code under test).
 * @example
 * ```ts
 * const report = await exploreCrashStates<number>({
 *   setup: (fs) => fs.mkdir("/data", { recursive: true }),
 *   scenario: async ({ fs, track }) => {
 *     const store = new ResilientJsonStore<{ n: number }>({ path: "/data/state.json", fs });
 *     for (let n = 1; n <= 3; n++) await track(n, () => store.set({ n }));
 *   },
 *   check: async ({ fs, promised }) => {
 *     const state = await new ResilientJsonStore<{ n: number }>({ path: "/data/state.json", fs }).get();
 *     assert((state?.n ?? 0) >= (promised.at(-1) ?? 0));
 *   },
 * });
 * console.log(report.summary);
 * ```
 */
export async function exploreCrashStates<P>(
  options: CrashExplorationOptions<P>,
): Promise<CrashExplorationReport> {
  const settings = resolveExplorationOptions(options);
  const captures: CrashState<CrashStateFileSystem>[] = [];
  let recording = false;
  const fs = createCrashStateFileSystem({
    ...settings.fileSystem,
    onCall: (_call, fileSystem) => {
      if (recording) captures.push(fileSystem.captureCrashState());
    },
  });
  await options.setup?.(fs);
  fs.syncAll();
  const baseline = fs.calls.length;
  captures.push(fs.captureCrashState());
  const started: RecordedValue<P>[] = [];
  const resolved: RecordedValue<P>[] = [];
  const callsSoFar = (): number => fs.calls.length - baseline;
  const context: CrashScenarioContext<P> = {
    fs,
    started: (value) => {
      started.push({ value, afterCalls: callsSoFar() });
    },
    resolved: (value) => {
      resolved.push({ value, afterCalls: callsSoFar() });
    },
    track: async (value, run) => {
      context.started(value);
      const result = await run();
      context.resolved(value);
      return result;
    },
  };
  recording = true;
  try {
    await options.scenario(context);
  } finally {
    recording = false;
  }
  return checkCaptures(captures, baseline, { started, resolved }, settings, options.check);
}

interface ExplorationSettings {
  readonly models: readonly CrashModel[];
  readonly limits: ReturnType<typeof resolveImageLimits>;
  readonly maxStates: number;
  readonly maxFailures: number;
  readonly seed: number;
  readonly deduplicate: boolean;
  readonly fileSystem: CrashFileSystemFactoryOptions;
}

function resolveExplorationOptions<P>(options: CrashExplorationOptions<P>): ExplorationSettings {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object with a scenario and a check");
  }
  if (typeof options.scenario !== "function") throw new TypeError("scenario must be a function");
  if (typeof options.check !== "function") throw new TypeError("check must be a function");
  if (options.setup !== undefined && typeof options.setup !== "function") {
    throw new TypeError("setup must be a function");
  }
  const { maxStates, maxFailures, ...imageLimits } = options.limits ?? {};
  const explorationLimits = {
    maxStates: maxStates ?? CRASH_EXPLORATION_LIMIT_DEFAULTS.maxStates,
    maxFailures: maxFailures ?? CRASH_EXPLORATION_LIMIT_DEFAULTS.maxFailures,
  };
  for (const [name, value] of Object.entries(explorationLimits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a whole number >= 1, got ${String(value)}`);
    }
  }
  const seed = options.seed ?? 1;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a whole number, got ${seed}`);
  return {
    models: resolveModels(options.models),
    limits: resolveImageLimits(imageLimits),
    ...explorationLimits,
    seed,
    deduplicate: options.deduplicate ?? true,
    // A frozen clock keeps the run the same every time, and lets equal states
    // at different crash points be recognised as one.
    fileSystem: {
      ...options.fileSystem,
      clock: options.fileSystem?.clock ?? new ManualClock(Date.now()),
    },
  };
}

async function checkCaptures<P>(
  captures: readonly CrashState<CrashStateFileSystem>[],
  baseline: number,
  recorded: { started: readonly RecordedValue<P>[]; resolved: readonly RecordedValue<P>[] },
  settings: ExplorationSettings,
  check: CrashExplorationOptions<P>["check"],
): Promise<CrashExplorationReport> {
  const statesByModel = Object.fromEntries(CRASH_MODELS.map((model) => [model, 0])) as Record<
    CrashModel,
    number
  >;
  const failures: CrashStateFailure[] = [];
  const seen = new Set<string>();
  let imagesGenerated = 0;
  let statesExplored = 0;
  let duplicatesSkipped = 0;
  let sampledCrashPoints = 0;
  let maxPendingOperations = 0;
  let truncated = false;
  const valuesUpTo = (list: readonly RecordedValue<P>[], crashPoint: number): P[] =>
    list.filter((entry) => entry.afterCalls <= crashPoint).map((entry) => entry.value);

  explore: for (const capture of captures) {
    const crashPoint = capture.afterCall - baseline;
    const promised = valuesUpTo(recorded.resolved, crashPoint);
    const started = valuesUpTo(recorded.started, crashPoint);
    const pending = capture.pendingOperations;
    maxPendingOperations = Math.max(maxPendingOperations, pending.length);
    const { plans, sampledSubsets } = capture.plan(settings.models, settings.limits, settings.seed);
    if (sampledSubsets) sampledCrashPoints++;
    for (const plan of plans) {
      if (statesExplored >= settings.maxStates || failures.length >= settings.maxFailures) {
        truncated = true;
        break explore;
      }
      imagesGenerated++;
      const image = capture.image(plan);
      if (settings.deduplicate) {
        const key = `${image.fingerprint}|${promised.length}|${started.length}|${capture.capturedAt}`;
        if (seen.has(key)) {
          duplicatesSkipped++;
          continue;
        }
        seen.add(key);
      }
      statesExplored++;
      statesByModel[plan.model]++;
      const lastCall = crashPoint === 0 ? undefined : capture.lastCall;
      try {
        await check({
          fs: image.createFileSystem(),
          freshImage: () => image.createFileSystem(),
          promised,
          started,
          crashPoint,
          lastCall,
          crashedAt: capture.capturedAt,
          model: plan.model,
          image: plan.label,
          pendingOperations: pending,
          applied: plan.applied,
        });
      } catch (error) {
        failures.push(describeFailure({ crashPoint, lastCall, plan, pending, promised, error }));
      }
    }
  }
  const calls = Math.max(0, (captures.at(-1)?.afterCall ?? baseline) - baseline);
  const report = {
    calls,
    crashPoints: captures.length,
    imagesGenerated,
    statesExplored,
    duplicatesSkipped,
    statesByModel,
    sampledCrashPoints,
    maxPendingOperations,
    promisesResolved: recorded.resolved.length,
    truncated,
    failures,
  };
  return { ...report, summary: summarize(report) };
}

function summarize(report: Omit<CrashExplorationReport, "summary">): string {
  const byModel = CRASH_MODELS.map((model) => `${model} ${report.statesByModel[model]}`).join(", ");
  return (
    `${report.statesExplored} crash states checked (${byModel}) at ${report.crashPoints} crash points ` +
    `over ${report.calls} calls; ${report.duplicatesSkipped} duplicate images skipped, ` +
    `subsets sampled at ${report.sampledCrashPoints} crash points, at most ${report.maxPendingOperations} ` +
    `operations pending, ${report.promisesResolved} promises resolved, ${report.failures.length} failures` +
    (report.truncated ? " (stopped early)" : "")
  );
}

function describeFailure(details: {
  crashPoint: number;
  lastCall: FileSystemCall | undefined;
  plan: CrashImagePlan;
  pending: readonly PendingOperation[];
  promised: readonly unknown[];
  error: unknown;
}): CrashStateFailure {
  const { crashPoint, lastCall, plan, pending, promised, error } = details;
  const applied = new Set(plan.applied);
  const pendingOperations = pending.map((operation) => {
    if (applied.has(operation.id)) return `applied ${operation.description}`;
    if (plan.torn?.operation === operation.id) {
      return `torn    ${operation.description} (kept ${plan.torn.bytesKept} of ${plan.torn.bytesTotal} bytes)`;
    }
    return `lost    ${operation.description}`;
  });
  const after = lastCall
    ? `after call ${crashPoint} (${lastCall.operation} ${lastCall.path}${lastCall.destination ? ` -> ${lastCall.destination}` : ""})`
    : "before the first call";
  const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
  const message = [
    `power cut ${after}, model ${plan.model}, image ${plan.label}`,
    `promised before the cut: ${safeJson(promised)}`,
    "pending operations:",
    ...(pendingOperations.length > 0 ? pendingOperations.map((line) => `  ${line}`) : ["  (none)"]),
    `check failed: ${reason}`,
  ].join("\n");
  return {
    crashPoint,
    lastCall,
    model: plan.model,
    image: plan.label,
    pendingOperations,
    promised,
    error,
    message,
  };
}

function safeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
  } catch {
    return String(value);
  }
}
