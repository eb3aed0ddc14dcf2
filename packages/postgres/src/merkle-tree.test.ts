import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MerkleFrontier, merkleLeafHash, merkleNodeHash } from "./merkle-tree.js";

// The reference vectors of Certificate Transparency (RFC 6962): leaf inputs and
// the root of the tree over the first n of them.
const LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
];
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/** RFC 6962's definition, recursively: the reference the frontier must agree with. */
function referenceRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return createHash("sha256").digest();
  if (leaves.length === 1) return merkleLeafHash(leaves[0]!);
  let split = 1;
  while (split * 2 < leaves.length) split *= 2;
  return merkleNodeHash(referenceRoot(leaves.slice(0, split)), referenceRoot(leaves.slice(split)));
}

describe("MerkleFrontier", () => {
  it("computes the RFC 6962 reference roots for every size from 0 to 8", () => {
    const frontier = new MerkleFrontier();
    expect(frontier.root().toString("hex")).toBe(ROOTS[0]);
    LEAVES.forEach((leaf, index) => {
      frontier.append(Buffer.from(leaf, "hex"));
      expect(frontier.size).toBe(index + 1);
      expect(frontier.root().toString("hex")).toBe(ROOTS[index + 1]);
    });
  });

  it("agrees with the recursive definition for larger trees, across a save and a reload", () => {
    const leaves = Array.from({ length: 77 }, (_, index) => Buffer.from(`line ${index}`));
    let frontier = new MerkleFrontier();
    leaves.forEach((leaf, index) => {
      frontier.append(leaf);
      if (index % 10 === 3) frontier = MerkleFrontier.fromJSON(frontier.size, frontier.toJSON());
      expect(frontier.root().equals(referenceRoot(leaves.slice(0, index + 1)))).toBe(true);
    });
  });

  it("refuses a frontier that does not fit its size", () => {
    expect(() => new MerkleFrontier(3, [Buffer.alloc(32)])).toThrow(RangeError);
    expect(() => new MerkleFrontier(-1, [])).toThrow(RangeError);
  });
});
