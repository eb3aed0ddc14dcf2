import { CHECKSUM_KEY, checkChecksum, checksummedFile, withChecksumLine } from "./checksum.js";
import { isPlainObject, StateNormalizer } from "./state-normalizer.js";

/** The keys the store adds to the caller's state in the file. */
export const SCHEMA_VERSION_KEY = "_schemaVersion";
/** @see SCHEMA_VERSION_KEY */
export const WRITE_EPOCH_KEY = "_writeEpoch";
/** @internal Keys a caller's state may not use: the store writes them itself. */
export const RESERVED_KEYS = [CHECKSUM_KEY, SCHEMA_VERSION_KEY, WRITE_EPOCH_KEY] as const;

/**
 * @internal A caller's state serialized into the file's text, with the spot
 * for `_writeEpoch` left open: the epoch is only known inside the mutex, but
 * the state must be copied when `set()` is called.
 */
export interface SerializedState {
  /** The text before the epoch's digits (without the checksum line). */
  readonly head: string;
  /** The text after them. */
  readonly tail: string;
  /** UTF-8 size of the file without the epoch's digits. */
  readonly byteLength: number;
  /** How many `__proto__` keys were dropped. */
  readonly droppedProtoKeys: number;
}

/** Marks where the epoch goes; JSON never puts a raw newline inside a string, so this line is unique. */
const EPOCH_LINE = `\n  "${WRITE_EPOCH_KEY}": 0`;
/** What the checksum line adds to a file: `\n  "_checksum": "sha256:<64 hex>",`. */
const CHECKSUM_LINE_BYTES = withChecksumLine("{", "0".repeat(64)).length - 1;

/**
 * @internal Serializes a caller's state (a plain object without reserved
 * keys, checked by the caller) with its metadata: keys sorted (integer-like
 * keys first, in numeric order, as JavaScript orders them), 2-space indentation.
 * @throws {@link StoreSerializeError} for values JSON cannot carry faithfully,
 *   for getters, `toJSON` methods or proxies that throw, and for nesting past
 *   {@link MAX_STATE_DEPTH}.
 */
export function serializeState(
  state: Record<string, unknown>,
  schemaVersion: number,
  storePath: string,
): SerializedState {
  const normalizer = new StateNormalizer(storePath);
  const withMeta = normalizer.topLevel(state, [
    [SCHEMA_VERSION_KEY, schemaVersion],
    [WRITE_EPOCH_KEY, 0],
  ]);
  const text = JSON.stringify(withMeta, null, 2);
  const at = text.indexOf(EPOCH_LINE) + EPOCH_LINE.length - 1;
  const head = text.slice(0, at);
  const tail = text.slice(at + 1);
  return {
    head,
    tail,
    byteLength:
      Buffer.byteLength(head, "utf8") + Buffer.byteLength(tail, "utf8") + CHECKSUM_LINE_BYTES,
    droppedProtoKeys: normalizer.droppedProtoKeys,
  };
}

/** @internal The file for a given epoch, as text and bytes: the state, its metadata and the checksum line first. */
export function composeFile(
  serialized: SerializedState,
  writeEpoch: number,
): { text: string; bytes: Buffer } {
  return checksummedFile(`${serialized.head}${writeEpoch}${serialized.tail}`);
}

/** @internal The file text for a given epoch (see {@link composeFile}). */
export function composeFileText(serialized: SerializedState, writeEpoch: number): string {
  return composeFile(serialized, writeEpoch).text;
}

/** @internal The caller's state from a file's text: a fresh object without the metadata keys. */
export function callerStateOf(fileText: string): Record<string, unknown> {
  const {
    [CHECKSUM_KEY]: _checksum,
    [SCHEMA_VERSION_KEY]: _version,
    [WRITE_EPOCH_KEY]: _epoch,
    ...state
  } = JSON.parse(fileText) as Record<string, unknown>;
  return state;
}

/** @internal Why a file is not a usable store file. */
export type DamageKind = "checksum-mismatch" | "corrupt";

/** @internal What a store file holds, once checked and parsed. */
export type ParsedFile =
  | {
      readonly ok: true;
      /** The caller's state, without the metadata keys and without `__proto__` keys. */
      readonly state: Record<string, unknown>;
      readonly schemaVersion: number;
      readonly writeEpoch: number;
      readonly droppedProtoKeys: number;
      /** `verified` for this format; `absent` for a file of the previous format (or another program's JSON). */
      readonly checksum: "verified" | "absent";
    }
  | {
      readonly ok: false;
      readonly damage: DamageKind;
      readonly reason: string;
      /**
       * Whether the file holds complete JSON. An incomplete one is what a
       * write cut short leaves (a torn write); a complete one was damaged or
       * written by something else.
       */
      readonly complete: boolean;
    };

/**
 * @internal Checks and parses a store file. The checksum is checked first: a
 * file whose checksum does not match is damaged whatever its JSON says. A
 * file without a checksum line (written by the previous version of the
 * store) is read as before; one without metadata at all (plain JSON written
 * by something else) reads as schema version 1, epoch 0, so existing state
 * files can be adopted.
 */
export function parseStoreFile(bytes: Buffer, text: string = bytes.toString("utf8")): ParsedFile {
  const checksum = checkChecksum(bytes);
  if (checksum.status === "mismatch") {
    return {
      ok: false,
      damage: "checksum-mismatch",
      reason: checksum.reason,
      complete: isCompleteJson(text),
    };
  }
  let droppedProtoKeys = 0;
  let value: unknown;
  try {
    // A reviver is slow, so it only runs when a `__proto__` key could be
    // present, spelled out or hidden behind a \u escape.
    value =
      text.includes("__proto__") || text.includes("\\u")
        ? JSON.parse(text, (key, member) => {
            if (key !== "__proto__") return member;
            droppedProtoKeys++;
            return undefined;
          })
        : JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      damage: "corrupt",
      reason: `not valid JSON (${(error as Error).message})`,
      complete: false,
    };
  }
  if (!isPlainObject(value)) return corrupt("not a JSON object");
  if (checksum.status === "absent" && Object.hasOwn(value, CHECKSUM_KEY)) {
    return corrupt(`${CHECKSUM_KEY} is not on the first line, where the store writes it`);
  }
  const { [SCHEMA_VERSION_KEY]: schemaVersion = 1, [WRITE_EPOCH_KEY]: writeEpoch = 0 } = value;
  if (!Number.isSafeInteger(schemaVersion) || (schemaVersion as number) < 1) {
    return corrupt(`${SCHEMA_VERSION_KEY} is not a whole number >= 1`);
  }
  if (!Number.isSafeInteger(writeEpoch) || (writeEpoch as number) < 0) {
    return corrupt(`${WRITE_EPOCH_KEY} is not a whole number >= 0`);
  }
  const {
    [CHECKSUM_KEY]: _checksum,
    [SCHEMA_VERSION_KEY]: _version,
    [WRITE_EPOCH_KEY]: _epoch,
    ...state
  } = value;
  return {
    ok: true,
    state,
    schemaVersion: schemaVersion as number,
    writeEpoch: writeEpoch as number,
    droppedProtoKeys,
    checksum: checksum.status,
  };
}

/** A file that parses but is not a store file: complete, and not what the store writes. */
function corrupt(reason: string): ParsedFile {
  return { ok: false, damage: "corrupt", reason, complete: true };
}

function isCompleteJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
