import { basename, dirname, join } from "node:path";
import { assertSafeName } from "@beauvoir/core";

const escapeForRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Matches what follows `{name}.quarantine.`: the timestamp and an optional origin suffix. */
const QUARANTINE_SUFFIX = String.raw`\.quarantine\.(\d+)(?:-[A-Za-z0-9-]+)?`;

/**
 * @internal The names of every file that belongs to one store, derived from
 * its primary path: `{path}`, `{path}.bak`, `{path}.{pid}.tmp` and
 * `{path}.quarantine.{timestamp}[-origin]`.
 */
export class StoreFileNames {
  readonly primary: string;
  readonly bak: string;
  readonly directory: string;
  readonly #baseName: string;
  readonly #tmpPattern: RegExp;
  readonly #quarantinePattern: RegExp;

  constructor(path: string) {
    this.primary = path;
    this.bak = `${path}.bak`;
    this.directory = dirname(path);
    this.#baseName = basename(path);
    const base = escapeForRegExp(this.#baseName);
    this.#tmpPattern = new RegExp(`^${base}\\.(\\d+)\\.tmp$`);
    this.#quarantinePattern = new RegExp(`^${base}${QUARANTINE_SUFFIX}$`);
  }

  /** The tmp file this process writes. */
  tmp(pid: number = process.pid): string {
    return `${this.primary}.${pid}.tmp`;
  }

  /** Tells whether a directory entry is a tmp file of this store (any process). */
  isTmp(entry: string): boolean {
    return this.#tmpPattern.test(entry);
  }

  /** The pid in a tmp file's name. */
  tmpPid(entry: string): string {
    return this.#tmpPattern.exec(entry)?.[1] ?? "";
  }

  /** Full path of a directory entry. */
  inDirectory(entry: string): string {
    return join(this.directory, entry);
  }

  /** Where a corrupt file goes: `{path}.quarantine.{timestamp}` plus `-bak`/`-tmp{pid}` and a counter. */
  quarantine(timestamp: number, origin: string, attempt: number): string {
    const suffix = [origin, attempt > 0 ? String(attempt) : ""].filter(Boolean).join("-");
    return `${this.primary}.quarantine.${timestamp}${suffix ? `-${suffix}` : ""}`;
  }

  /** The quarantine timestamp of a directory entry of this store, or undefined. */
  quarantineTimestamp(entry: string): number | undefined {
    const match = this.#quarantinePattern.exec(entry);
    return match ? Number(match[1]) : undefined;
  }
}

const ANY_STORE_QUARANTINE = new RegExp(`^.+\\.json${QUARANTINE_SUFFIX}$`);

/** @internal The quarantine timestamp of any factory store's entry (`*.json.quarantine.*`), or undefined. */
export function anyStoreQuarantineTimestamp(entry: string): number | undefined {
  const match = ANY_STORE_QUARANTINE.exec(entry);
  return match ? Number(match[1]) : undefined;
}

/** `{name}.json`, `{name}.json.bak` or `{name}.json.{pid}.tmp`. */
const STORE_ENTRY = /^(.+)\.json(?:\.bak|\.\d+\.tmp)?$/;

/** @internal The store name of a factory directory's entry (primary, bak or tmp file), or undefined. */
export function storeNameOfEntry(entry: string): string | undefined {
  const name = STORE_ENTRY.exec(entry)?.[1];
  if (name === undefined) return undefined;
  try {
    return assertSafeName(name);
  } catch {
    return undefined;
  }
}
