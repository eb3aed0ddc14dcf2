import { createHash, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { CheckpointError } from "./errors.js";
import { MerkleFrontier } from "./merkle-tree.js";

/** What a checkpoint states: the log, how many records, their Merkle root. */
export interface Checkpoint {
  /** The log's name, e.g. `example.com/bot/audit`. */
  origin: string;
  /** Records covered: seq 1 to `treeSize`. */
  treeSize: number;
  /** RFC 6962 root hash of the records' lines. */
  rootHash: Buffer;
}

const EM_DASH = "\u2014";
const ED25519 = 0x01;

/**
 * The 4-byte key id of C2SP signed notes for an Ed25519 key:
 * SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4].
 */
export function checkpointKeyId(keyName: string, publicKey: KeyObject): Buffer {
  return createHash("sha256")
    .update(keyName, "utf8")
    .update(Buffer.from([0x0a, ED25519]))
    .update(rawPublicKey(publicKey))
    .digest()
    .subarray(0, 4);
}

/**
 * The verifier key of C2SP signed notes, `<name>+<hex key id>+<base64(0x01 ‖ key)>`:
 * what to hand to whoever checks the checkpoints.
 */
export function checkpointVerifierKey(keyName: string, publicKey: KeyObject): string {
  const key = Buffer.concat([Buffer.from([ED25519]), rawPublicKey(publicKey)]);
  return `${keyName}+${checkpointKeyId(keyName, publicKey).toString("hex")}+${key.toString("base64")}`;
}

/**
 * Signs a checkpoint as a C2SP signed note whose text is a C2SP tlog
 * checkpoint: origin, tree size and base64 root hash, one per line; then a
 * blank line and `— <key name> <base64(key id ‖ Ed25519 signature)>`.
 * @param checkpoint - origin, size, root.
 * @param privateKey - an Ed25519 private key.
 * @param keyName - the signer's name. @default the origin
 * @returns the note text.
 */
export function signCheckpoint(
  checkpoint: Checkpoint,
  privateKey: KeyObject,
  keyName = checkpoint.origin,
): string {
  assertName(checkpoint.origin, "origin");
  assertName(keyName, "keyName");
  const text = `${checkpoint.origin}\n${checkpoint.treeSize}\n${checkpoint.rootHash.toString("base64")}\n`;
  const signature = sign(null, Buffer.from(text, "utf8"), privateKey);
  const keyId = checkpointKeyId(keyName, createPublicKey(privateKey));
  return `${text}\n${EM_DASH} ${keyName} ${Buffer.concat([keyId, signature]).toString("base64")}\n`;
}

/**
 * Checks a signed checkpoint note under a public key.
 * @param note - the note text.
 * @param publicKey - the Ed25519 public key it must be signed with.
 * @param keyName - the signer's name. @default the note's origin
 * @returns what it states.
 * @throws {@link CheckpointError} (`CHECKPOINT_INVALID`) for a malformed note, no
 *   signature by that key, or a signature that does not verify.
 */
export function verifyCheckpoint(note: string, publicKey: KeyObject, keyName?: string): Checkpoint {
  const split = note.lastIndexOf("\n\n");
  if (split === -1 || !note.endsWith("\n")) {
    throw new CheckpointError("malformed", "the note has no signature block");
  }
  const text = note.slice(0, split + 1);
  const lines = text.split("\n");
  const [origin, size, root] = lines;
  if (lines.length < 4 || !origin || !/^\d+$/.test(size ?? "") || root === undefined) {
    throw new CheckpointError("malformed", "the note is not a checkpoint (origin, size, root)");
  }
  const rootHash = Buffer.from(root, "base64");
  if (rootHash.length !== 32 || rootHash.toString("base64") !== root) {
    throw new CheckpointError("malformed", "the root hash is not 32 bytes of base64");
  }
  const name = keyName ?? origin;
  const keyId = checkpointKeyId(name, publicKey);
  const prefix = `${EM_DASH} ${name} `;
  const line = note
    .slice(split + 2, -1)
    .split("\n")
    .find((candidate) => {
      if (!candidate.startsWith(prefix)) return false;
      const bytes = Buffer.from(candidate.slice(prefix.length), "base64");
      return bytes.length === 68 && bytes.subarray(0, 4).equals(keyId);
    });
  if (line === undefined) {
    throw new CheckpointError("unsigned", `no signature by ${name} with this key`);
  }
  const signature = Buffer.from(line.slice(prefix.length), "base64").subarray(4);
  if (!verify(null, Buffer.from(text, "utf8"), publicKey, signature)) {
    throw new CheckpointError("bad_signature", "the signature does not verify");
  }
  return { origin, treeSize: Number(size), rootHash };
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: "jwk" });
  if (jwk.crv !== "Ed25519" || typeof jwk.x !== "string") {
    throw new TypeError("checkpoint keys must be Ed25519 keys");
  }
  return Buffer.from(jwk.x, "base64url");
}

function assertName(name: string, option: string): void {
  if (typeof name !== "string" || name.length === 0 || /[\s+]/u.test(name)) {
    throw new TypeError(`${option} must be a non-empty name without spaces or "+"`);
  }
}

/**
 * Checks an exported audit history against a signed checkpoint kept outside
 * the database: the signature, then the RFC 6962 root of the history's first
 * `treeSize` lines. A history rewritten by whoever controls the database (even
 * re-chained with valid hashes) fails here, because they cannot sign a new root.
 * @param lines - the export's lines, without newlines, in seq order.
 * @param note - the signed checkpoint.
 * @param publicKey - the sealer's Ed25519 public key.
 * @param keyName - the signer's name. @default the checkpoint's origin
 * @returns the checkpoint.
 * @throws {@link CheckpointError} when it does not hold.
 */
export function verifyHistoryAgainstCheckpoint(
  lines: readonly string[],
  note: string,
  publicKey: KeyObject,
  keyName?: string,
): Checkpoint {
  const checkpoint = verifyCheckpoint(note, publicKey, keyName);
  if (lines.length < checkpoint.treeSize) {
    throw new CheckpointError(
      "history_too_short",
      `the history has ${lines.length} records, the checkpoint covers ${checkpoint.treeSize}`,
    );
  }
  const frontier = new MerkleFrontier();
  for (let index = 0; index < checkpoint.treeSize; index++) {
    frontier.append(Buffer.from(lines[index]!, "utf8"));
  }
  if (!frontier.root().equals(checkpoint.rootHash)) {
    throw new CheckpointError(
      "root_mismatch",
      `the first ${checkpoint.treeSize} records do not have the signed root`,
    );
  }
  return checkpoint;
}
