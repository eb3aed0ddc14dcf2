import { type FileSystem, nodeFileSystem } from "@beauvoir/core";
import { describeThrown, StoreReadError, StoreSymlinkError, StoreTooLargeError } from "./errors.js";
import { StoreFileNames } from "./file-names.js";
import { assertFileSystem, RESILIENT_STORE_DEFAULTS } from "./options.js";
import { listStoreDirectory, readStoreFile } from "./store-file-reader.js";

/**
 * The health of one file of a store, as a read-only inspection sees it:
 * - `valid`: its checksum matches and it parses as a store file;
 * - `unverified`: no checksum line (written by the previous version of the
 *   store, or plain JSON from another program), parses as a store file;
 * - `checksum-mismatch`: the content changed after it was written (a damaged
 *   byte); never served;
 * - `corrupt`: not a store file (not JSON, torn, bad metadata);
 * - `missing`: no such file;
 * - `symlink`: a symbolic link, which the store refuses to read or write through;
 * - `too-large`: over `maxSizeBytes`;
 * - `unreadable`: it exists but cannot be read (EACCES, EIO, a directory).
 */
export type StoreFileHealth =
  | "valid"
  | "unverified"
  | "checksum-mismatch"
  | "corrupt"
  | "missing"
  | "symlink"
  | "too-large"
  | "unreadable";

/** One file of a store, as {@link inspectStore} found it. */
export interface StoreFileReport {
  /** The file's path. */
  readonly file: string;
  readonly health: StoreFileHealth;
  /** Its size, when it could be read. */
  readonly sizeBytes?: number;
  /** `_writeEpoch`, for a `valid` or `unverified` file. */
  readonly writeEpoch?: number;
  /** `_schemaVersion`, for a `valid` or `unverified` file. */
  readonly schemaVersion?: number;
  /** The caller's state (without the metadata keys), for a `valid` or `unverified` file, as stored (not migrated). */
  readonly state?: Record<string, unknown>;
  /** Why the file is not usable, for the other healths but `missing`. */
  readonly reason?: string;
}

/** What {@link inspectStore} found: every file of one store. */
export interface StoreInspection {
  /** The primary file's path. */
  readonly path: string;
  readonly primary: StoreFileReport;
  readonly bak: StoreFileReport;
  /** The `{path}.{pid}.tmp` files left by writers that crashed, sorted by name. */
  readonly tmps: readonly StoreFileReport[];
  /** The quarantined files, with the time they were quarantined (from their name), oldest first. */
  readonly quarantined: ReadonlyArray<{ readonly file: string; readonly quarantinedAt: number }>;
  /**
   * The file a store opened now would serve by its read fallback: the primary
   * when usable, else the bak, else the newest usable tmp file above both;
   * null when none is. (Schema migrations and `validate` are not applied here.)
   */
  readonly current: "primary" | "bak" | "tmp" | null;
}

/** Options of {@link inspectStore}. */
export interface StoreInspectionOptions {
  /** The store's primary file. */
  path: string;
  /** The filesystem to read through. @default nodeFileSystem */
  fs?: FileSystem | undefined;
  /** Files over this size are reported `too-large` without being read. @default 10_485_760 (10 MiB) */
  maxSizeBytes?: number | undefined;
}

/**
 * Reads every file of a store and reports its health, for an operator or a
 * status page. Read-only: nothing is written, renamed, quarantined or
 * cleaned up, no lock or mutex is taken, and a store in use in another
 * process is not disturbed. Never through a symbolic link.
 * @param options - the store's `path`, and the `fs` and `maxSizeBytes` to use.
 * @returns the primary, the bak, the tmp and quarantine files, and which one would serve.
 * @throws TypeError or RangeError naming a bad option; {@link StoreReadError}
 *   when the directory exists but cannot be listed.
 * @example
 * ```ts
 * const { primary, bak, current } = await inspectStore({ path: "/var/lib/bot/state/cursor.json" });
 * console.log(primary.health, bak.health, current); // "checksum-mismatch" "valid" "bak"
 * ```
 */
export async function inspectStore(options: StoreInspectionOptions): Promise<StoreInspection> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object with at least a path");
  }
  const { path } = options;
  if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
    throw new TypeError("path must be a non-empty string without NUL characters");
  }
  const fs = assertFileSystem(options.fs ?? nodeFileSystem);
  const maxSizeBytes = options.maxSizeBytes ?? RESILIENT_STORE_DEFAULTS.maxSizeBytes;
  if (!Number.isSafeInteger(maxSizeBytes) || maxSizeBytes < 2) {
    throw new RangeError(`maxSizeBytes must be a whole number of bytes >= 2, got ${maxSizeBytes}`);
  }
  const names = new StoreFileNames(path);
  const entries = (await listStoreDirectory(fs, path, names.directory)).sort();
  const report = (file: string) => reportFile(fs, path, file, maxSizeBytes);
  const primary = await report(names.primary);
  const bak = await report(names.bak);
  const tmps: StoreFileReport[] = [];
  for (const entry of entries.filter((name) => names.isTmp(name))) {
    tmps.push(await report(names.inDirectory(entry)));
  }
  const quarantined = entries
    .map((entry) => ({ entry, quarantinedAt: names.quarantineTimestamp(entry) }))
    .filter(
      (found): found is { entry: string; quarantinedAt: number } =>
        found.quarantinedAt !== undefined,
    )
    .sort((a, b) => a.quarantinedAt - b.quarantinedAt)
    .map(({ entry, quarantinedAt }) => ({ file: names.inDirectory(entry), quarantinedAt }));
  return { path, primary, bak, tmps, quarantined, current: currentSource(primary, bak, tmps) };
}

const usable = (report: StoreFileReport): boolean =>
  report.health === "valid" || report.health === "unverified";

function currentSource(
  primary: StoreFileReport,
  bak: StoreFileReport,
  tmps: readonly StoreFileReport[],
): StoreInspection["current"] {
  if (usable(primary)) return "primary";
  if (usable(bak)) return "bak";
  const floor = Math.max(primary.writeEpoch ?? -1, bak.writeEpoch ?? -1);
  return tmps.some((tmp) => usable(tmp) && (tmp.writeEpoch ?? -1) > floor) ? "tmp" : null;
}

async function reportFile(
  fs: FileSystem,
  storePath: string,
  file: string,
  maxSizeBytes: number,
): Promise<StoreFileReport> {
  let loaded: Awaited<ReturnType<typeof readStoreFile>>;
  try {
    loaded = await readStoreFile(fs, storePath, file, maxSizeBytes);
  } catch (error) {
    if (StoreSymlinkError.isInstance(error)) {
      return { file, health: "symlink", reason: error.message };
    }
    if (StoreTooLargeError.isInstance(error)) {
      return { file, health: "too-large", sizeBytes: error.sizeBytes, reason: error.message };
    }
    if (StoreReadError.isInstance(error)) {
      const code = (error.cause as { code?: unknown } | undefined)?.code;
      const detail = describeThrown(error.cause);
      return {
        file,
        health: "unreadable",
        reason: typeof code === "string" && !detail.includes(code) ? `${code}: ${detail}` : detail,
      };
    }
    throw error;
  }
  if (!loaded) return { file, health: "missing" };
  const { parsed } = loaded;
  const sizeBytes = loaded.bytes.length;
  if (!parsed.ok) return { file, health: parsed.damage, sizeBytes, reason: parsed.reason };
  return {
    file,
    health: parsed.checksum === "verified" ? "valid" : "unverified",
    sizeBytes,
    writeEpoch: parsed.writeEpoch,
    schemaVersion: parsed.schemaVersion,
    state: parsed.state,
  };
}
