export { type FromPinoOptions, fromPino, type PinoLike } from "./from-pino.js";
export {
  type ConsoleLike,
  consoleSink,
  formatConsoleLine,
  formatJsonLine,
  jsonLinesSink,
  type LevelMethods,
  type LoggerSinkOptions,
  type LogLevel,
  type LogRecord,
  type LogSink,
  loggerSink,
  looksLikePino,
  type WritableLike,
} from "./log-sinks.js";
export {
  type BeauvoirLogger,
  createLogger,
  isBeauvoirLogger,
  LOG_LEVEL_ENVIRONMENT_VARIABLE,
  LOGGER_DEFAULTS,
  type LogData,
  type LoggerOptions,
  type LogThreshold,
} from "./logger.js";
export {
  type ExtraSecretPattern,
  SECRET_REDACTOR_DEFAULTS,
  type SecretRedactorOptions,
} from "./options.js";
export { BUILT_IN_SECRET_PATTERNS, type SecretPattern } from "./secret-patterns.js";
export { SecretRedactor } from "./secret-redactor.js";
