import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  checkpointKeyId,
  checkpointVerifierKey,
  signCheckpoint,
  verifyCheckpoint,
  verifyHistoryAgainstCheckpoint,
} from "./checkpoint.js";
import { MerkleFrontier } from "./merkle-tree.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const lines = ["one", "two", "three"];
const root = () => {
  const frontier = new MerkleFrontier();
  for (const line of lines) frontier.append(Buffer.from(line));
  return frontier.root();
};

describe("signed checkpoints", () => {
  it("writes a C2SP checkpoint note and reads it back under the key", () => {
    const note = signCheckpoint(
      { origin: "example.com/bot/audit", treeSize: 3, rootHash: root() },
      privateKey,
    );
    const [text, signature] = note.split("\n\n");
    expect(text).toBe(`example.com/bot/audit\n3\n${root().toString("base64")}`);
    expect(signature).toMatch(/^\u2014 example\.com\/bot\/audit [A-Za-z0-9+/]{91}=\n$/);
    const key = Buffer.from(signature!.split(" ")[2]!, "base64");
    expect(key.subarray(0, 4).equals(checkpointKeyId("example.com/bot/audit", publicKey))).toBe(
      true,
    );
    expect(verifyCheckpoint(note, publicKey)).toEqual({
      origin: "example.com/bot/audit",
      treeSize: 3,
      rootHash: root(),
    });
    expect(verifyHistoryAgainstCheckpoint(lines, note, publicKey).treeSize).toBe(3);
    expect(checkpointVerifierKey("example.com/bot/audit", publicKey)).toMatch(
      /^example\.com\/bot\/audit\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/,
    );
  });

  it("refuses another key, an edited note and a rewritten history", () => {
    const note = signCheckpoint(
      { origin: "log", treeSize: 3, rootHash: root() },
      privateKey,
      "signer",
    );
    expect(verifyCheckpoint(note, publicKey, "signer").treeSize).toBe(3);
    expect(() => verifyCheckpoint(note, other.publicKey, "signer")).toThrow(
      expect.objectContaining({ code: "CHECKPOINT_INVALID", problem: "unsigned" }),
    );
    expect(() => verifyCheckpoint(note.replace("\n3\n", "\n2\n"), publicKey, "signer")).toThrow(
      expect.objectContaining({ problem: "bad_signature" }),
    );
    expect(() =>
      verifyHistoryAgainstCheckpoint(["one", "2", "three"], note, publicKey, "signer"),
    ).toThrow(expect.objectContaining({ problem: "root_mismatch" }));
    expect(() => verifyHistoryAgainstCheckpoint(["one"], note, publicKey, "signer")).toThrow(
      expect.objectContaining({ problem: "history_too_short" }),
    );
    for (const malformed of [
      "no signature",
      "log\n3\nAAAA\n\n\u2014 log x\n",
      "log\nx\nroot\n\n\u2014 log x\n",
    ]) {
      expect(() => verifyCheckpoint(malformed, publicKey)).toThrow(
        expect.objectContaining({ problem: "malformed" }),
      );
    }
  });

  it("names a bad origin or key", () => {
    expect(() =>
      signCheckpoint({ origin: "has space", treeSize: 0, rootHash: root() }, privateKey),
    ).toThrow(/origin/);
    expect(() =>
      signCheckpoint({ origin: "log", treeSize: 0, rootHash: root() }, privateKey, "a+b"),
    ).toThrow(/keyName/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    expect(() => checkpointKeyId("log", rsa.publicKey)).toThrow(/Ed25519/);
  });
});
