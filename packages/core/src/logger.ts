/**
 * The logging surface every Beauvoir package writes to. `@beauvoir/redactor`'s
 * `createLogger` returns one that redacts secrets before anything is emitted;
 * any object with these four methods (pino, console wrappers) also fits.
 */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, data?: Record<string, unknown>): void;
  /** Normal operation worth recording. */
  info(message: string, data?: Record<string, unknown>): void;
  /** Something went wrong but the caller can go on. */
  warn(message: string, data?: Record<string, unknown>): void;
  /** Something failed; put the error itself under `data.error`. */
  error(message: string, data?: Record<string, unknown>): void;
}

const ignore = (): void => {};

/**
 * A logger that discards everything; the default where a logger is optional.
 *
 * @example
 * ```ts
 * const logger: Logger = options.logger ?? silentLogger;
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
});
