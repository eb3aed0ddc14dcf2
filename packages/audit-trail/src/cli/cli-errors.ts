import { getSystemErrorMap } from "node:util";
import { BeauvoirError, isErrnoError } from "@beauvoir/core";
import { describeFailure } from "../failure-description.js";
import { printable } from "./terminal-text.js";

/**
 * Thrown for arguments or input the tool cannot work with: exit code 2, the
 * message on one line, then the usage unless `showUsage` is false (a path
 * that holds no history is not a mistake in how the command was typed).
 */
export class UsageError extends Error {
  readonly showUsage: boolean;

  /**
   * @param message - one line.
   * @param options - `showUsage` (default true).
   */
  constructor(message: string, options: { showUsage?: boolean } = {}) {
    super(message);
    this.showUsage = options.showUsage ?? true;
  }
}

const SYSTEM_MESSAGES = new Map([...getSystemErrorMap().values()]);

/**
 * An errno code with its plain meaning: `ENOENT (no such file or directory)`.
 * @param code - the code, e.g. `ENOENT`.
 * @returns the text.
 */
export function describeErrnoCode(code: string): string {
  const meaning = SYSTEM_MESSAGES.get(code);
  return meaning ? `${code} (${meaning})` : code;
}

/**
 * One line for a failure, for people: a Beauvoir error's message, with the
 * errno code of its cause in words (never Node's raw `scandir '…'` text);
 * control characters escaped.
 * @param error - what was thrown.
 * @returns the line, without a trailing newline.
 */
export function describeCliFailure(error: unknown): string {
  const message = readMessage(error);
  const cause = BeauvoirError.isInstance(error) ? (error as { cause?: unknown }).cause : undefined;
  let text = describeFailure(message);
  if (isErrnoError(cause) && typeof cause.code === "string") {
    text += `: ${describeErrnoCode(cause.code)}`;
  } else if (cause instanceof Error) {
    text += `: ${readMessage(cause)}`;
  } else if (
    !BeauvoirError.isInstance(error) &&
    isErrnoError(error) &&
    typeof error.code === "string"
  ) {
    const path = (error as { path?: unknown }).path;
    text = `${typeof path === "string" ? `${path}: ` : ""}${describeErrnoCode(error.code)}`;
  }
  return printable(text);
}

/**
 * What `parseArgs` complains about, in one short line (its own messages
 * carry advice about `--` that does not apply here).
 * @param error - a `parseArgs` error.
 * @returns the line.
 */
export function describeArgumentError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = readMessage(error);
  const quoted = /'([^']*)'/.exec(typeof message === "string" ? message : "")?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && quoted) return `Unknown option ${quoted}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && quoted) {
    return `Option ${quoted.split(/[ ,]/)[0]} needs a value`;
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" && quoted) {
    return `Unexpected argument ${quoted}`;
  }
  return describeFailure(message).split("\n")[0]!;
}

function readMessage(error: unknown): unknown {
  try {
    return error instanceof Error ? error.message : error;
  } catch {
    return error;
  }
}
