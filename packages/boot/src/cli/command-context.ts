import type { FileSystem } from "@beauvoir/core";
import type { BeauvoirCliIo } from "./cli-io.js";
import type { DataDirectory } from "./data-directory.js";

/** The options `beauvoir` takes (each command reads those it knows). */
export interface BeauvoirValues {
  json: boolean;
  help: boolean;
  version: boolean;
  "data-dir"?: string;
  status?: string;
  reason?: string;
  "if-dead": boolean;
  "from-bak": boolean;
  html?: string;
  "hmac-key-env"?: string;
  [option: string]: unknown;
}

/** What a command runs with. */
export interface CommandContext {
  io: BeauvoirCliIo;
  fs: FileSystem;
  /** The data directory, checked to be one. */
  layout: DataDirectory;
  /** The command's own arguments, the data directory taken out. */
  args: string[];
  values: BeauvoirValues;
  /** The HMAC key named by `--hmac-key-env`, read from the environment. */
  hmacKey(): string | undefined;
  /** Now, in epoch milliseconds. */
  now(): number;
}
