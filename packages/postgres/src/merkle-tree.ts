import { createHash } from "node:crypto";

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). */
export function merkleLeafHash(data: Uint8Array): Buffer {
  return createHash("sha256").update(LEAF_PREFIX).update(data).digest();
}

/** RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * The right edge of an RFC 6962 Merkle tree: the roots of its perfect
 * subtrees, largest first (one per set bit of the size). Enough to append
 * leaves and compute the root without keeping the leaves; what the sealer
 * stores in the audit head between batches.
 */
export class MerkleFrontier {
  #size: number;
  readonly #subtrees: Buffer[];

  /**
   * @param size - leaves so far.
   * @param subtrees - the frontier's hashes, largest subtree first.
   * @throws RangeError when they do not match the size.
   */
  constructor(size = 0, subtrees: readonly Uint8Array[] = []) {
    const expected = size.toString(2).replace(/0/g, "").length;
    if (!Number.isSafeInteger(size) || size < 0 || subtrees.length !== expected) {
      throw new RangeError(`a tree of ${size} leaves has a frontier of ${expected} subtrees`);
    }
    this.#size = size;
    this.#subtrees = subtrees.map((hash) => Buffer.from(hash));
  }

  /** Leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends a leaf, given its data (hashed as an RFC 6962 leaf). */
  append(data: Uint8Array): void {
    let node = merkleLeafHash(data);
    for (let size = this.#size; size & 1; size = Math.floor(size / 2)) {
      node = merkleNodeHash(this.#subtrees.pop()!, node);
    }
    this.#subtrees.push(node);
    this.#size++;
  }

  /** The tree's root hash (SHA-256 of nothing for an empty tree). */
  root(): Buffer {
    if (this.#subtrees.length === 0) return createHash("sha256").digest();
    let root = this.#subtrees[this.#subtrees.length - 1]!;
    for (let index = this.#subtrees.length - 2; index >= 0; index--) {
      root = merkleNodeHash(this.#subtrees[index]!, root);
    }
    return root;
  }

  /** The frontier as text (hex hashes), for storage. */
  toJSON(): string[] {
    return this.#subtrees.map((hash) => hash.toString("hex"));
  }

  /** Reads {@link MerkleFrontier.toJSON}'s output back. */
  static fromJSON(size: number, hashes: readonly string[]): MerkleFrontier {
    return new MerkleFrontier(
      size,
      hashes.map((hash) => Buffer.from(hash, "hex")),
    );
  }
}
