import { basename, join } from "node:path";
import {
  type Clock,
  type FileSystem,
  isErrnoError,
  nodeFileSystem,
  openPrivateFile,
  SymlinkRefusedError,
  systemClock,
} from "@beauvoir/core";
import type { ChainBreakReason } from "./chain-scanner.js";
import { appendFully } from "./current-file.js";
import { AuditReadError, AuditWriteError } from "./errors.js";
import { readHistoryFile } from "./history-file-reader.js";
import { scanHistory } from "./history-scan.js";
import { toKeyBytes } from "./hmac-key.js";
import { checkMethods, FILE_SYSTEM_METHODS, resolvePath } from "./options.js";
import { formatStamp, type HistoryLayout, layoutOf, listSegments } from "./segments.js";
import { claimWriter } from "./writer-registry.js";

/** Options of {@link repairAuditHistory}. */
export interface RepairAuditHistoryOptions {
  /** The history's current file, e.g. `/var/lib/agent/audit/audit.jsonl`. */
  path: string;
  /** Check HMACs too: a record that fails under the key, or an unsigned record no switch covers, is damage. */
  hmacKey?: string | Uint8Array | undefined;
  /** @default nodeFileSystem */
  fs?: FileSystem | undefined;
  /** Source of the quarantine names' stamps. @default systemClock */
  clock?: Clock | undefined;
}

/** Why a history needed repair: the first bad record, or a file that is not one. */
export interface AuditDamage {
  file: string;
  /** 1-based line of the first bad record (1 for a file that could not be read). */
  line: number;
  seq?: number;
  /** `unreadable_file`: a directory, a symbolic link or a file its owner may not read where a history file belongs. */
  reason: ChainBreakReason | "unreadable_file";
  detail: string;
}

/** One file (or part of one) moved aside by a repair. */
export interface QuarantinedFile {
  /** The history file it came from. */
  file: string;
  /** Where its original bytes now are, byte for byte (a directory or link is moved as it is). */
  quarantinedAs: string;
  /** Bytes left in `file` (the valid part before the damage); 0 when the whole file was moved. */
  keptBytes: number;
  /** Bytes of the original not kept in the history. */
  movedBytes: number;
  /** Lines in the part moved (a last line without newline counts). */
  movedLines: number;
}

/** What {@link repairAuditHistory} did. */
export interface AuditRepairReport {
  /** False when the history verified: nothing was changed. */
  repaired: boolean;
  damage?: AuditDamage;
  /** Everything moved aside, newest first. */
  quarantined: QuarantinedFile[];
  /** Records the history keeps. */
  records: number;
  /** Seq of its last record (0 when none is left); the next record continues from it. */
  lastSeq: number;
}

/**
 * The operator's repair of a damaged audit history: finds the first bad
 * record (or a directory or link where a history file belongs) and moves
 * everything from there on aside, keeping it. The damaged file's original
 * bytes stay, byte for byte, under a quarantine name beside it
 * (`<name>.quarantined-<stamp>`, the same inode, linked before the file is
 * replaced by its valid part); every later file is moved aside whole. What
 * remains is a history that verifies, which an `AuditTrail` continues.
 * Nothing is deleted. Each step is made durable before the next; an
 * interrupted repair leaves a history that `initialize()` still refuses, and
 * running the repair again finishes it.
 *
 * Takes the file like a writer does: refused while an `AuditTrail` of this
 * process has it open. Do not run it while another process writes the file.
 * @param options - the file, an optional key, fs and clock.
 * @returns the damage found and each move.
 * @throws {@link AuditFileInUseError} while a trail of this process has the file.
 * @throws {@link AuditReadError} for a file it may not read (fix its permissions instead).
 * @throws {@link AuditWriteError} when a move fails (what was moved so far is in the quarantine files).
 * @example
 * ```ts
 * const report = await repairAuditHistory({ path: "/var/lib/agent/audit/audit.jsonl" });
 * for (const moved of report.quarantined) console.log(`${moved.file} → ${moved.quarantinedAs}`);
 * ```
 */
export async function repairAuditHistory(
  options: RepairAuditHistoryOptions,
): Promise<AuditRepairReport> {
  if (typeof options !== "object" || options === null)
    throw new TypeError("options must be an object");
  const layout = layoutOf(resolvePath(options.path));
  const hmacKey =
    options.hmacKey === undefined ? undefined : toKeyBytes(options.hmacKey, "hmacKey");
  const fs = checkMethods(options.fs, "fs", FILE_SYSTEM_METHODS) ?? nodeFileSystem;
  const clock = checkMethods(options.clock, "clock", ["now"]) ?? systemClock;
  const release = claimWriter(layout.current, repairAuditHistory);
  try {
    const mover = new QuarantineMover(fs, layout, formatStamp(clock.now()));
    const quarantined: QuarantinedFile[] = [];
    let damage: AuditDamage | undefined;
    // A directory, a link or an unreadable file where a history file belongs
    // gives no record: move it aside first, then check the chain of the rest.
    const files: string[] = [];
    const listed = [
      ...(await listSegments(fs, layout)).map((name) => join(layout.directory, name)),
      layout.current,
    ];
    for (const file of listed) {
      const unusable = await unusableEntry(fs, file);
      if (unusable !== undefined) {
        quarantined.push((await mover.moveWhole(file))!);
        damage ??= { file, line: 1, reason: "unreadable_file", detail: unusable };
      } else if (file !== layout.current) {
        files.push(file);
      }
    }
    files.push(layout.current);
    const scan = await scanHistory(files, {
      mode: "history",
      hmacKey,
      read: (file) => readHistoryFile(fs, file),
    });
    const problem = scan.break;
    if (problem) {
      const moved: QuarantinedFile[] = [];
      for (let index = files.length - 1; index > problem.fileIndex; index--) {
        const whole = await mover.moveWhole(files[index]!);
        if (whole) moved.push(whole);
      }
      const damaged = files[problem.fileIndex]!;
      const part =
        problem.offset > 0
          ? await mover.keepPrefix(damaged, problem.offset)
          : await mover.moveWhole(damaged);
      if (part) moved.push(part);
      quarantined.unshift(...moved);
      const chainDamage: AuditDamage = {
        file: problem.file,
        line: problem.line,
        reason: problem.reason,
        detail: problem.detail,
      };
      if (problem.seq !== undefined) chainDamage.seq = problem.seq;
      if (!damage || listed.indexOf(problem.file) < listed.indexOf(damage.file))
        damage = chainDamage;
    }
    const report: AuditRepairReport = {
      repaired: quarantined.length > 0,
      quarantined,
      records: problem ? problem.recordsBefore : scan.records,
      lastSeq: scan.lastSeq ?? 0,
    };
    if (damage) report.damage = damage;
    return report;
  } finally {
    release();
  }
}

/** Why `file` gives no records (a directory, a link, no read permission), or `undefined` when it is readable or missing. */
async function unusableEntry(fs: FileSystem, file: string): Promise<string | undefined> {
  try {
    await readHistoryFile(fs, file);
    return undefined;
  } catch (error) {
    const why = describeUnusable(error);
    if (why === undefined) throw error;
    return why;
  }
}

function describeUnusable(error: unknown): string | undefined {
  if (SymlinkRefusedError.isInstance(error))
    return "a symbolic link is where a history file belongs";
  if (!AuditReadError.isInstance(error)) return undefined;
  if (isErrnoError(error.cause, "EISDIR")) return "a directory is where a history file belongs";
  if (isErrnoError(error.cause, "EACCES", "EPERM")) return "the file's owner may not read it";
  return undefined;
}

/** Moves history files aside under quarantine names, each step durable before the next. */
class QuarantineMover {
  readonly #fs: FileSystem;
  readonly #layout: HistoryLayout;
  readonly #stamp: string;

  constructor(fs: FileSystem, layout: HistoryLayout, stamp: string) {
    this.#fs = fs;
    this.#layout = layout;
    this.#stamp = stamp;
  }

  /** Moves a whole file (or a directory, link or unreadable file in its place) aside; `undefined` when it does not exist. */
  async moveWhole(file: string): Promise<QuarantinedFile | undefined> {
    let bytes: Buffer | undefined;
    try {
      bytes = await readHistoryFile(this.#fs, file);
      if (bytes === undefined) return undefined;
    } catch (error) {
      if (describeUnusable(error) === undefined) throw error;
    }
    const quarantinedAs =
      bytes === undefined ? await this.#renameAside(file) : await this.#linkAside(file);
    // The new name must be durable before the old one goes, or a power cut
    // between the two could keep the unlink and lose the link.
    await this.#syncDirectory();
    if (bytes !== undefined) {
      await this.#step("unlink", file, () => this.#fs.unlink(file));
      await this.#syncDirectory();
    }
    return {
      file,
      quarantinedAs,
      keptBytes: 0,
      movedBytes: bytes?.length ?? 0,
      movedLines: bytes ? countLines(bytes) : 0,
    };
  }

  /** Keeps `file`'s first `keepBytes`, its original bytes moving aside whole. */
  async keepPrefix(file: string, keepBytes: number): Promise<QuarantinedFile> {
    const bytes = await readHistoryFile(this.#fs, file);
    if (bytes === undefined)
      throw new AuditReadError(file, Object.assign(new Error("ENOENT"), { code: "ENOENT" }));
    const temporary = `${file}.repair-tmp`;
    await this.#writeNewFile(temporary, bytes.subarray(0, keepBytes));
    const quarantinedAs = await this.#linkAside(file);
    await this.#syncDirectory();
    await this.#step("rename", file, () => this.#fs.rename(temporary, file));
    await this.#syncDirectory();
    return {
      file,
      quarantinedAs,
      keptBytes: keepBytes,
      movedBytes: bytes.length - keepBytes,
      movedLines: countLines(bytes.subarray(keepBytes)),
    };
  }

  async #writeNewFile(path: string, content: Buffer): Promise<void> {
    // A temporary file left by an interrupted repair is ours to replace.
    await this.#fs.unlink(path).catch((error: unknown) => {
      if (!isErrnoError(error, "ENOENT"))
        throw new AuditWriteError("unlink", path, `Could not remove ${path}`, error);
    });
    const handle = await this.#step("open", path, () => openPrivateFile(this.#fs, path, "create"));
    try {
      await appendFully(handle, content, path);
      await this.#step("fsync", path, () => handle.sync());
    } finally {
      await handle.close().catch(() => {});
    }
  }

  /** A new name for the file's inode, created exclusively (hard link). */
  async #linkAside(file: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const name = this.#quarantineName(file, attempt);
      try {
        await this.#fs.link(file, name);
        return name;
      } catch (error) {
        if (!isErrnoError(error, "EEXIST"))
          throw new AuditWriteError("link", name, `Could not link ${file} to ${name}`, error);
      }
    }
  }

  /** For a directory or link in place of a file: rename it to a name checked to be free. */
  async #renameAside(file: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const name = this.#quarantineName(file, attempt);
      if (await this.#exists(name)) continue;
      await this.#step("rename", file, () => this.#fs.rename(file, name));
      return name;
    }
  }

  async #exists(path: string): Promise<boolean> {
    try {
      await this.#fs.stat(path);
      return true;
    } catch (error) {
      return !isErrnoError(error, "ENOENT");
    }
  }

  #quarantineName(file: string, attempt: number): string {
    const suffix = attempt === 1 ? "" : `-${attempt}`;
    return join(this.#layout.directory, `${basename(file)}.quarantined-${this.#stamp}${suffix}`);
  }

  async #syncDirectory(): Promise<void> {
    await this.#step("fsync", this.#layout.directory, () =>
      this.#fs.fsyncDirectory(this.#layout.directory),
    );
  }

  async #step<T>(
    operation: AuditWriteError["operation"],
    path: string,
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (AuditWriteError.isInstance(error)) throw error;
      throw new AuditWriteError(operation, path, `Repair: ${operation} of ${path} failed`, error);
    }
  }
}

/** Lines in `bytes`, counting a last line without newline. */
function countLines(bytes: Buffer): number {
  let lines = 0;
  for (let index = bytes.indexOf(10); index !== -1; index = bytes.indexOf(10, index + 1)) lines++;
  return bytes.length > 0 && bytes[bytes.length - 1] !== 10 ? lines + 1 : lines;
}
