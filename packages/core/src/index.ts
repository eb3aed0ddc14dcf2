export { type DelayOptions, delay } from "./abort.js";
export {
  BeauvoirError,
  type BeauvoirErrorOptions,
  isBeauvoirErrorWithCode,
} from "./beauvoir-error.js";
export { type Clock, systemClock, type TimerHandle } from "./clock.js";
export { type CommandLineProcess, runCommandLine } from "./command-line.js";
export { escapeControlCharacters } from "./control-characters.js";
export type { CrashImage, CrashImageOptions, CrashState } from "./crash-state-capture.js";
export {
  CRASH_EXPLORATION_LIMIT_DEFAULTS,
  type CrashCheckContext,
  type CrashExplorationLimits,
  type CrashExplorationOptions,
  type CrashExplorationReport,
  type CrashScenarioContext,
  type CrashStateFailure,
  exploreCrashStates,
} from "./crash-state-explorer.js";
export {
  type CrashFileSystemFactoryOptions,
  type CrashStateFileSystem,
  type CrashStateFileSystemOptions,
  createCrashStateFileSystem,
} from "./crash-state-file-system.js";
export type { CrashStateFileHandle, CrashStateStats } from "./crash-state-handle.js";
export {
  CRASH_IMAGE_LIMIT_DEFAULTS,
  CRASH_MODELS,
  type CrashImageLimits,
  type CrashImagePlan,
  type CrashModel,
} from "./crash-state-images.js";
export type {
  EntryChange,
  PendingDataOperation,
  PendingNamespaceOperation,
  PendingOperation,
} from "./crash-state-operations.js";
export type { CrashStateEntry } from "./crash-state-tree.js";
export {
  type Defined,
  definedFields,
  type OptionalKeysRejectingUndefined,
} from "./defined-fields.js";
export { ensureDurableDirectory } from "./durable-directory.js";
export { assertDurationOption, type DurationOptionRules } from "./duration-option.js";
export { isErrnoError } from "./errno.js";
export { FailStoppedError } from "./fail-stopped-error.js";
export {
  createFaultyFileSystem,
  type Fault,
  type FaultyFileSystem,
  type FaultyFileSystemOptions,
  type FileSystemCall,
  type FileSystemOperation,
  SIMULATED_CRASH,
} from "./faulty-file-system.js";
export { type FileHandleLike, type FileSystem, nodeFileSystem } from "./file-system.js";
export { mentionsSecondaryRateLimit } from "./github-rate-limit-text.js";
export { type HeadersLike, readHeader } from "./headers.js";
export { describeHttpFailure, type HttpFailure, readHttpFailure } from "./http-failure.js";
export { type Logger, silentLogger } from "./logger.js";
export { ManualClock } from "./manual-clock.js";
export {
  openPrivateFile,
  PRIVATE_DIRECTORY_MODE,
  PRIVATE_FILE_MODE,
  type PrivateOpenMode,
  privateOpenFlags,
  SymlinkRefusedError,
} from "./private-files.js";
export { assertSafeName, InvalidNameError } from "./resource-name.js";
export { routeDirectoryFsyncs } from "./routed-directory-fsync.js";
