export { type DelayOptions, delay } from "./abort.js";
export {
  BeauvoirError,
  type BeauvoirErrorOptions,
  isBeauvoirErrorWithCode,
} from "./beauvoir-error.js";
export { type Clock, systemClock, type TimerHandle } from "./clock.js";
export { escapeControlCharacters } from "./control-characters.js";
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
