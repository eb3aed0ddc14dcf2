import type { FileSystem } from "@beauvoir/core";
import type { ProgressStream } from "./progress-bar.js";
import { UsageError } from "./read-history.js";

/** Where the tool reads and writes; `process` in the bin, fakes in tests. */
export interface CliIo {
  /** A progress bar may be drawn here when it is a terminal and stderr is not. */
  stdout: ProgressStream;
  stderr: ProgressStream;
  env: Record<string, string | undefined>;
  /** Stops `tail --follow`. */
  signal?: AbortSignal | undefined;
  fs?: FileSystem | undefined;
  /** Inputs smaller than this get no progress bar. @default 8 MiB */
  progressThresholdBytes?: number | undefined;
  /** How often `tail --follow` looks for new lines. @default 250 */
  followIntervalMs?: number | undefined;
  /** What `--version` prints. @default the package's version */
  version?: string | undefined;
  /** The time `prune --before 30d` counts from. @default Date.now() */
  now?: (() => number) | undefined;
}

/**
 * Exit codes: 0 fine (chain valid, record found, repair done); 1 a problem
 * found (a broken, empty or cut history, no such record, no records where
 * some are expected); 2 usage or I/O error.
 */
export type ExitCode = 0 | 1 | 2;

/** The options every command may receive. */
export interface CliValues {
  json: boolean;
  "hmac-key-env"?: string;
  "require-hmac": boolean;
  lines?: string;
  follow: boolean;
  help: boolean;
  "expect-head"?: string;
  "allow-empty": boolean;
  before?: string;
  "dry-run": boolean;
}

/** The history path of a command taking at most one: the argument, `$BEAUVOIR_AUDIT_PATH`, or `./audit.jsonl`. */
export function onePath(args: string[], io: CliIo, command: string): string {
  if (args.length > 1) throw new UsageError(`${command} takes one path, got ${args.length}`);
  return args[0] ?? (io.env.BEAUVOIR_AUDIT_PATH || "audit.jsonl");
}

/** The HMAC key named by `--hmac-key-env`, read from the environment (never from the command line). */
export function keyFromEnvironment(values: CliValues, io: CliIo): string | undefined {
  const variable = values["hmac-key-env"];
  if (variable === undefined) return undefined;
  const key = io.env[variable];
  if (!key) throw new UsageError(`Environment variable ${variable} is not set or empty`);
  return key;
}
