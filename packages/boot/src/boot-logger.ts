import type { Logger } from "@beauvoir/core";
import {
  type BeauvoirLogger,
  createLogger,
  isBeauvoirLogger,
  loggerSink,
  looksLikePino,
  SecretRedactor,
} from "@beauvoir/redactor";
import type { RedactorPort } from "./ports.js";

/**
 * The logger boot hands out: the initializer's own when `createLogger` (or
 * `fromPino`) made it, else that logger behind a redacting one, called the
 * way it expects: pino data first (`pino.info({ ...data }, msg)`), the
 * others message first.
 * @param logger - the logger the initializer built.
 * @param redactor - boot's redactor; a default one unless it is a `SecretRedactor`.
 * @returns the redacting logger.
 */
export function redactingLogger(
  logger: Logger,
  redactor: RedactorPort | undefined,
): BeauvoirLogger {
  if (isBeauvoirLogger(logger)) return logger;
  return createLogger(redactor instanceof SecretRedactor ? redactor : new SecretRedactor(), {
    level: "debug",
    sink: loggerSink(logger, {
      argumentOrder: looksLikePino(logger) ? "data-first" : "message-first",
    }),
  });
}
