import {
  applyOperation,
  type PendingDataOperation,
  type PendingOperation,
} from "./crash-state-operations.js";
import { mixSeed, seededRandom } from "./crash-state-random.js";
import type { FileTree } from "./crash-state-tree.js";
import { type Defined, definedFields } from "./defined-fields.js";

/**
 * How a power cut treats the operations that were not durable yet:
 * - `prefix`: the disk got the first n of them, in the order they were made
 *   (n = 0 … all);
 * - `subset`: any set of them that keeps each file's writes in order and each
 *   directory entry's history in order (see `dependsOn` of a pending
 *   operation); enumerated when small, sampled otherwise;
 * - `torn`: a prefix whose last operation is a write that reached the disk
 *   only in part: up to a sector boundary, or up to a random byte.
 */
export type CrashModel = "prefix" | "subset" | "torn";

/** Every model, in the order images are made. */
export const CRASH_MODELS: readonly CrashModel[] = Object.freeze(["prefix", "subset", "torn"]);

/** Bounds on the number of crash images made from one crash state. */
export interface CrashImageLimits {
  /**
   * `subset` model: when the order-keeping subsets of the pending operations
   * number at most this many, every one is made; otherwise this many are
   * sampled (the empty and the full set always among them).
   * @default 64
   */
  maxSubsets?: number | undefined;
  /**
   * `torn` model: tears at sector boundaries per pending write; a write that
   * spans more boundaries gets this many, evenly spread, first and last included.
   * @default 4
   */
  sectorTearsPerWrite?: number | undefined;
  /** `torn` model: tears at a random byte (not a sector boundary) per pending write. @default 1 */
  randomTearsPerWrite?: number | undefined;
  /** The sector size of the `torn` model, in bytes. @default 512 */
  sectorSize?: number | undefined;
}

/** Defaults of {@link CrashImageLimits}. */
export const CRASH_IMAGE_LIMIT_DEFAULTS = Object.freeze({
  maxSubsets: 64,
  sectorTearsPerWrite: 4,
  randomTearsPerWrite: 1,
  sectorSize: 512,
});

/** Which pending operations one crash image holds. */
export interface CrashImagePlan {
  readonly model: CrashModel;
  /** Ids of the pending operations applied whole, in the order they were made. */
  readonly applied: readonly number[];
  /** The write applied in part (the `torn` model), after all of `applied`. */
  readonly torn?:
    | {
        readonly operation: number;
        /** Bytes of the write that reached the disk, from its start. */
        readonly bytesKept: number;
        /** Of the write's length. */
        readonly bytesTotal: number;
        readonly at: "sector" | "random";
      }
    | undefined;
  /** How the image was chosen: `"prefix 2/5"`, `"subset {3,5} of 5"`, `"torn #4 at 512/1300 (sector), after prefix 3/5"`. */
  readonly label: string;
}

/** @internal Limits with defaults applied and checked. */
export type ResolvedImageLimits = Readonly<Defined<CrashImageLimits>>;

/** @internal Applies defaults and throws `RangeError` naming a bad limit. */
export function resolveImageLimits(limits: CrashImageLimits = {}): ResolvedImageLimits {
  const resolved = { ...CRASH_IMAGE_LIMIT_DEFAULTS, ...definedFields(limits) };
  for (const [name, value] of Object.entries(resolved)) {
    const least = name === "maxSubsets" || name === "sectorSize" ? 1 : 0;
    if (!Number.isSafeInteger(value) || value < least) {
      throw new RangeError(`${name} must be a whole number >= ${least}, got ${String(value)}`);
    }
  }
  return Object.freeze(resolved);
}

/**
 * @internal The crash images of one crash state under the given models.
 * Plans may repeat across models (the full prefix is also a subset); the
 * caller deduplicates by the resulting tree.
 * @param pending - the pending operations, in the order they were made.
 * @param models - the models to plan for.
 * @param limits - the bounds.
 * @param seed - seeds the sampling and the random tears.
 * @returns the plans, and whether the subsets were sampled rather than enumerated.
 */
export function planCrashImages(
  pending: readonly PendingOperation[],
  models: readonly CrashModel[],
  limits: ResolvedImageLimits,
  seed: number,
): { plans: CrashImagePlan[]; sampledSubsets: boolean } {
  const plans: CrashImagePlan[] = [];
  let sampledSubsets = false;
  const total = pending.length;
  const ids = pending.map((operation) => operation.id);
  for (const model of models) {
    if (model === "prefix") {
      for (let count = 0; count <= total; count++) {
        plans.push({ model, applied: ids.slice(0, count), label: `prefix ${count}/${total}` });
      }
    } else if (model === "subset") {
      let subsets = enumerateOrderedSubsets(pending, limits.maxSubsets);
      if (subsets === undefined) {
        sampledSubsets = true;
        subsets = sampleOrderedSubsets(pending, limits.maxSubsets, seededRandom(mixSeed(seed, 1)));
      }
      for (const applied of subsets) {
        plans.push({ model, applied, label: `subset {${applied.join(",")}} of ${total}` });
      }
    } else {
      plans.push(...planTornWrites(pending, limits, seededRandom(mixSeed(seed, 2))));
    }
  }
  return { plans, sampledSubsets };
}

/** Whether `operation` may be applied once the operations in `chosen` are. */
function dependenciesMet(
  operation: PendingOperation,
  pendingIds: ReadonlySet<number>,
  chosen: ReadonlySet<number>,
): boolean {
  return operation.dependsOn.every((id) => !pendingIds.has(id) || chosen.has(id));
}

/**
 * Every subset closed under `dependsOn`, or undefined when there are more than
 * `limit`. Each branch of the search ends in a valid subset (leaving an
 * operation out is always allowed), so the search stops after `limit + 1`
 * leaves whatever the number of operations.
 */
function enumerateOrderedSubsets(
  pending: readonly PendingOperation[],
  limit: number,
): number[][] | undefined {
  const pendingIds = new Set(pending.map((operation) => operation.id));
  const subsets: number[][] = [];
  const chosen = new Set<number>();
  const visit = (index: number): void => {
    if (subsets.length > limit) return;
    const operation = pending[index];
    if (operation === undefined) {
      subsets.push(pending.filter((entry) => chosen.has(entry.id)).map((entry) => entry.id));
      return;
    }
    visit(index + 1);
    if (dependenciesMet(operation, pendingIds, chosen)) {
      chosen.add(operation.id);
      visit(index + 1);
      chosen.delete(operation.id);
    }
  };
  visit(0);
  return subsets.length > limit ? undefined : subsets;
}

/** `count` distinct dependency-closed subsets: the empty one, the full one, then random ones. */
function sampleOrderedSubsets(
  pending: readonly PendingOperation[],
  count: number,
  random: () => number,
): number[][] {
  const pendingIds = new Set(pending.map((operation) => operation.id));
  const seen = new Set<string>();
  const subsets: number[][] = [];
  const add = (subset: number[]): void => {
    const key = subset.join(",");
    if (seen.has(key) || subsets.length >= count) return;
    seen.add(key);
    subsets.push(subset);
  };
  add([]);
  add(pending.map((operation) => operation.id));
  for (let attempt = 0; attempt < count * 8 && subsets.length < count; attempt++) {
    const chosen = new Set<number>();
    for (const operation of pending) {
      if (dependenciesMet(operation, pendingIds, chosen) && random() < 0.5)
        chosen.add(operation.id);
    }
    add(pending.filter((operation) => chosen.has(operation.id)).map((operation) => operation.id));
  }
  return subsets;
}

/** For each pending write, the prefix before it plus the write torn at sector boundaries and random bytes. */
function planTornWrites(
  pending: readonly PendingOperation[],
  limits: ResolvedImageLimits,
  random: () => number,
): CrashImagePlan[] {
  const plans: CrashImagePlan[] = [];
  pending.forEach((operation, index) => {
    if (operation.kind !== "write" || operation.bytes.length < 2) return;
    const applied = pending.slice(0, index).map((entry) => entry.id);
    const total = operation.bytes.length;
    const sectorCuts = spread(
      sectorBoundaries(operation, limits.sectorSize),
      limits.sectorTearsPerWrite,
    );
    const randomCuts = new Set<number>();
    for (let attempt = 0; attempt < limits.randomTearsPerWrite * 8; attempt++) {
      if (randomCuts.size >= limits.randomTearsPerWrite) break;
      const cut = 1 + Math.floor(random() * (total - 1));
      if (!sectorCuts.includes(cut)) randomCuts.add(cut);
    }
    const cuts = [
      ...sectorCuts.map((bytesKept) => ({ bytesKept, at: "sector" as const })),
      ...[...randomCuts].map((bytesKept) => ({ bytesKept, at: "random" as const })),
    ];
    for (const { bytesKept, at } of cuts) {
      plans.push({
        model: "torn",
        applied,
        torn: { operation: operation.id, bytesKept, bytesTotal: total, at },
        label: `torn #${operation.id} at ${bytesKept}/${total} (${at}), after prefix ${index}/${pending.length}`,
      });
    }
  });
  return plans;
}

/** How many bytes of a write end at each sector boundary strictly inside it. */
function sectorBoundaries(operation: PendingDataOperation, sectorSize: number): number[] {
  const cuts: number[] = [];
  const end = operation.position + operation.bytes.length;
  const first = (Math.floor(operation.position / sectorSize) + 1) * sectorSize;
  for (let boundary = first; boundary < end; boundary += sectorSize) {
    cuts.push(boundary - operation.position);
  }
  return cuts;
}

/** At most `count` of `values`, evenly spread, first and last kept. */
function spread(values: number[], count: number): number[] {
  if (values.length <= count) return values;
  if (count === 0) return [];
  if (count === 1) return [values[0] as number];
  const chosen = new Set<number>();
  for (let index = 0; index < count; index++) {
    chosen.add(values[Math.round((index * (values.length - 1)) / (count - 1))] as number);
  }
  return [...chosen];
}

/**
 * @internal Builds the tree of one crash image: the durable tree plus the
 * plan's operations.
 */
export function buildImageTree(
  durable: FileTree,
  pending: readonly PendingOperation[],
  plan: CrashImagePlan,
): FileTree {
  const tree = durable.clone();
  const byId = new Map(pending.map((operation) => [operation.id, operation]));
  for (const id of plan.applied) applyOperation(tree, byId.get(id) as PendingOperation);
  if (plan.torn) {
    applyOperation(tree, byId.get(plan.torn.operation) as PendingOperation, plan.torn.bytesKept);
  }
  return tree;
}
