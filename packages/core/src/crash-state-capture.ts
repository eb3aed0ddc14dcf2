import {
  buildImageTree,
  CRASH_MODELS,
  type CrashImageLimits,
  type CrashImagePlan,
  type CrashModel,
  planCrashImages,
  type ResolvedImageLimits,
  resolveImageLimits,
} from "./crash-state-images.js";
import type { PendingOperation } from "./crash-state-operations.js";
import { mixSeed } from "./crash-state-random.js";
import type { CrashStateEntry, FileTree } from "./crash-state-tree.js";
import type { FileSystemCall } from "./faulty-file-system.js";
import type { FileSystem } from "./file-system.js";

/** Which crash images to make of a crash state. */
export interface CrashImageOptions {
  /** The models. @default ["prefix", "subset", "torn"] */
  models?: readonly CrashModel[] | undefined;
  /** Bounds on the images per model. @default CRASH_IMAGE_LIMIT_DEFAULTS */
  limits?: CrashImageLimits | undefined;
  /** Seeds the sampled subsets and the random tears; mixed with the crash point. @default 1 */
  seed?: number | undefined;
}

/** @internal Builds a fresh filesystem whose both layers hold `tree`. */
export type ImageFileSystemFactory<F extends FileSystem> = (tree: FileTree) => F;

/**
 * One state of the disk after a power cut: the durable layer plus the
 * operations its plan names. `createFileSystem()` gives a fresh filesystem
 * holding it, with nothing pending, to run a recovery on.
 */
export class CrashImage<F extends FileSystem = FileSystem> implements CrashImagePlan {
  readonly model: CrashModel;
  readonly applied: readonly number[];
  readonly torn: CrashImagePlan["torn"];
  readonly label: string;
  readonly #build: () => FileTree;
  readonly #factory: ImageFileSystemFactory<F>;
  #tree: FileTree | undefined;
  #fingerprint: string | undefined;

  /** @internal */
  constructor(plan: CrashImagePlan, build: () => FileTree, factory: ImageFileSystemFactory<F>) {
    this.model = plan.model;
    this.applied = plan.applied;
    this.torn = plan.torn;
    this.label = plan.label;
    this.#build = build;
    this.#factory = factory;
  }

  get #image(): FileTree {
    this.#tree ??= this.#build();
    return this.#tree;
  }

  /** A digest of what a recovering program can observe; equal digests are the same state. */
  get fingerprint(): string {
    this.#fingerprint ??= this.#image.fingerprint();
    return this.#fingerprint;
  }

  /** What the image holds, every reachable entry, sorted. */
  entries(): CrashStateEntry[] {
    return this.#image.list();
  }

  /** A fresh filesystem holding this image, everything durable. Each call gives a new one. */
  createFileSystem(): F {
    return this.#factory(this.#image.clone());
  }
}

/**
 * What the disk and the page cache held at one moment: the durable layer and
 * the pending operations. Captured by `captureCrashState()`; frozen, later
 * calls do not change it.
 */
export class CrashState<F extends FileSystem = FileSystem> {
  /** How many calls the filesystem had seen when the state was captured. */
  readonly afterCall: number;
  /** The last of those calls. */
  readonly lastCall: FileSystemCall | undefined;
  /** The filesystem clock's time at the capture: when the power cut happened. */
  readonly capturedAt: number;
  /** The operations the page cache held and the disk did not, in the order they were made. */
  readonly pendingOperations: readonly PendingOperation[];
  readonly #durable: FileTree;
  readonly #factory: ImageFileSystemFactory<F>;

  /** @internal */
  constructor(
    afterCall: number,
    lastCall: FileSystemCall | undefined,
    capturedAt: number,
    durable: FileTree,
    pending: readonly PendingOperation[],
    factory: ImageFileSystemFactory<F>,
  ) {
    this.afterCall = afterCall;
    this.lastCall = lastCall;
    this.capturedAt = capturedAt;
    this.#durable = durable;
    this.pendingOperations = Object.freeze([...pending]);
    this.#factory = factory;
  }

  /** The image a power cut leaves when nothing pending reached the disk. */
  durableImage(): F {
    return this.#factory(this.#durable.clone());
  }

  /**
   * The crash images of this state under the chosen models (duplicates
   * across models included; compare `fingerprint`s to skip them).
   * @param options - models, limits and seed.
   * @returns the images, built lazily.
   */
  images(options: CrashImageOptions = {}): CrashImage<F>[] {
    const models = resolveModels(options.models);
    const limits = resolveImageLimits(options.limits);
    return this.plan(models, limits, options.seed ?? 1).plans.map((plan) => this.image(plan));
  }

  /** @internal The plans behind {@link CrashState.images}, and whether subsets were sampled. */
  plan(
    models: readonly CrashModel[],
    limits: ResolvedImageLimits,
    seed: number,
  ): { plans: CrashImagePlan[]; sampledSubsets: boolean } {
    return planCrashImages(this.pendingOperations, models, limits, mixSeed(seed, this.afterCall));
  }

  /** @internal The image of one plan. */
  image(plan: CrashImagePlan): CrashImage<F> {
    return new CrashImage(
      plan,
      () => buildImageTree(this.#durable, this.pendingOperations, plan),
      this.#factory,
    );
  }
}

/** @internal Checks a list of models; throws `RangeError` naming the unknown one. */
export function resolveModels(models: readonly CrashModel[] | undefined): readonly CrashModel[] {
  if (models === undefined) return CRASH_MODELS;
  if (!Array.isArray(models) || models.length === 0) {
    throw new RangeError(`models must be a non-empty list of ${CRASH_MODELS.join(", ")}`);
  }
  for (const model of models) {
    if (!CRASH_MODELS.includes(model)) {
      throw new RangeError(
        `models: unknown model ${JSON.stringify(model)}; use ${CRASH_MODELS.join(", ")}`,
      );
    }
  }
  return [...new Set(models)];
}
