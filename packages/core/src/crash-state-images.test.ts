import { describe, expect, it } from "vitest";
import type { CrashImage } from "./crash-state-capture.js";
import {
  type CrashStateFileSystem,
  createCrashStateFileSystem,
} from "./crash-state-file-system.js";

type Image = CrashImage<CrashStateFileSystem>;

/** Path → text of the files an image holds. */
function filesOf(image: Image): Record<string, string> {
  return Object.fromEntries(
    image
      .entries()
      .filter((entry) => entry.kind === "file")
      .map((entry) => [entry.path, (entry.data as Buffer).toString("latin1")]),
  );
}

/** A filesystem with durable empty files at the given paths, in a durable /data. */
async function withFiles(...names: string[]): Promise<CrashStateFileSystem> {
  const fs = createCrashStateFileSystem();
  await fs.mkdir("/data", { recursive: true });
  for (const name of names) await (await fs.open(`/data/${name}`, "w")).close();
  fs.syncAll();
  return fs;
}

async function append(fs: CrashStateFileSystem, name: string, text: string): Promise<void> {
  const handle = await fs.open(`/data/${name}`, "a");
  await handle.write(Buffer.from(text, "latin1"));
  await handle.close();
}

describe("crash images: prefix model", () => {
  it("makes one image per prefix of the pending operations, in order", async () => {
    const fs = await withFiles("a", "b");
    await append(fs, "a", "1");
    await append(fs, "b", "2");
    await append(fs, "a", "3");
    const images = fs.crashImages({ models: ["prefix"] });
    expect(images.map((image) => image.label)).toEqual([
      "prefix 0/3",
      "prefix 1/3",
      "prefix 2/3",
      "prefix 3/3",
    ]);
    expect(images.map(filesOf)).toEqual([
      { "/data/a": "", "/data/b": "" },
      { "/data/a": "1", "/data/b": "" },
      { "/data/a": "1", "/data/b": "2" },
      { "/data/a": "13", "/data/b": "2" },
    ]);
  });
});

describe("crash images: subset model", () => {
  it("keeps each file's writes in order and combines files freely", async () => {
    const fs = await withFiles("log", "other");
    for (const letter of "abcd") await append(fs, "log", letter);
    for (const letter of "xy") await append(fs, "other", letter);
    const images = fs.crashImages({ models: ["subset"] });
    const states = images.map(
      (image) => `${filesOf(image)["/data/log"]}|${filesOf(image)["/data/other"]}`,
    );
    expect(new Set(states).size).toBe(images.length);
    expect(states.sort()).toEqual(
      ["", "a", "ab", "abc", "abcd"]
        .flatMap((log) => ["", "x", "xy"].map((other) => `${log}|${other}`))
        .sort(),
    );
  });

  it("never applies a rename without the create of the name it moves", async () => {
    const fs = await withFiles();
    const handle = await fs.open("/data/state.tmp", "wx");
    await handle.write(Buffer.from("new"));
    await handle.sync();
    await handle.close();
    await fs.rename("/data/state.tmp", "/data/state");
    expect(fs.pendingOperations.map((operation) => operation.kind)).toEqual(["create", "rename"]);
    const [create, rename] = fs.pendingOperations;
    expect(rename?.dependsOn).toEqual([create?.id]);
    const images = fs.crashImages({ models: ["subset"] });
    expect(images.map(filesOf)).toEqual([
      {},
      { "/data/state.tmp": "new" },
      { "/data/state": "new" },
    ]);
  });

  it("lets changes to different names reach the disk in any order", async () => {
    const fs = await withFiles();
    await (await fs.open("/data/a", "w")).close();
    await (await fs.open("/data/b", "w")).close();
    const images = fs.crashImages({ models: ["subset"] });
    expect(images.map((image) => Object.keys(filesOf(image)).join(","))).toEqual([
      "",
      "/data/b",
      "/data/a",
      "/data/a,/data/b",
    ]);
  });

  it("samples maxSubsets distinct order-keeping subsets, reproducibly, when there are more", async () => {
    const fs = await withFiles();
    for (let index = 0; index < 10; index++) await (await fs.open(`/data/f${index}`, "w")).close();
    const state = fs.captureCrashState();
    const labels = (seed: number) =>
      state
        .images({ models: ["subset"], limits: { maxSubsets: 20 }, seed })
        .map((image) => image.label);
    const first = labels(7);
    expect(first).toHaveLength(20);
    expect(new Set(first).size).toBe(20);
    expect(first).toContain("subset {} of 10");
    expect(first).toContain(
      `subset {${state.pendingOperations.map((operation) => operation.id).join(",")}} of 10`,
    );
    expect(labels(7)).toEqual(first);
    expect(labels(8)).not.toEqual(first);
  });

  it("enumerates exactly when the subsets fit in maxSubsets", async () => {
    const fs = await withFiles();
    for (let index = 0; index < 6; index++) await (await fs.open(`/data/f${index}`, "w")).close();
    expect(fs.crashImages({ models: ["subset"], limits: { maxSubsets: 64 } })).toHaveLength(64);
    expect(fs.crashImages({ models: ["subset"], limits: { maxSubsets: 63 } })).toHaveLength(63);
  });
});

describe("crash images: torn model", () => {
  it("tears a pending write at each 512-byte boundary inside it and at one random byte", async () => {
    const fs = await withFiles("x");
    const content = Buffer.alloc(1300, "w").toString("latin1");
    await append(fs, "x", content);
    const images = fs.crashImages({ models: ["torn"] });
    const torn = images.map((image) => image.torn);
    expect(torn.slice(0, 2)).toEqual([
      { operation: fs.pendingOperations[0]?.id, bytesKept: 512, bytesTotal: 1300, at: "sector" },
      { operation: fs.pendingOperations[0]?.id, bytesKept: 1024, bytesTotal: 1300, at: "sector" },
    ]);
    expect(torn).toHaveLength(3);
    const random = torn[2]?.bytesKept as number;
    expect(torn[2]?.at).toBe("random");
    expect(random).toBeGreaterThan(0);
    expect(random).toBeLessThan(1300);
    expect(images.map((image) => filesOf(image)["/data/x"]?.length)).toEqual([512, 1024, random]);
  });

  it("counts sector boundaries from the start of the file, not of the write", async () => {
    const fs = await withFiles("x");
    await append(fs, "x", "h".repeat(100));
    fs.syncAll();
    await append(fs, "x", "w".repeat(1300));
    const sectors = fs
      .crashImages({ models: ["torn"], limits: { randomTearsPerWrite: 0 } })
      .map((image) => image.torn?.bytesKept);
    expect(sectors).toEqual([412, 924]);
  });

  it("spreads the sector tears of a long write, first and last kept", async () => {
    const fs = await withFiles("x");
    await append(fs, "x", "w".repeat(10 * 1024));
    const kept = fs
      .crashImages({ models: ["torn"], limits: { randomTearsPerWrite: 0, sectorTearsPerWrite: 4 } })
      .map((image) => image.torn?.bytesKept);
    expect(kept).toEqual([512, 3584, 6656, 9728]);
    expect(
      fs.crashImages({
        models: ["torn"],
        limits: { randomTearsPerWrite: 0, sectorTearsPerWrite: 1 },
      }),
    ).toHaveLength(1);
    expect(
      fs.crashImages({
        models: ["torn"],
        limits: { randomTearsPerWrite: 0, sectorTearsPerWrite: 0 },
      }),
    ).toHaveLength(0);
  });

  it("tears the last write of a prefix: earlier operations whole, later ones lost", async () => {
    const fs = await withFiles("a", "b");
    await append(fs, "a", "first");
    await append(fs, "b", "second write");
    await append(fs, "a", "third");
    const images = fs.crashImages({ models: ["torn"], seed: 3 });
    const ofSecond = images.filter(
      (image) => image.torn?.operation === fs.pendingOperations[1]?.id,
    );
    expect(ofSecond).toHaveLength(1);
    const files = filesOf(ofSecond[0] as Image);
    expect(files["/data/a"]).toBe("first");
    expect("second write".startsWith(files["/data/b"] as string)).toBe(true);
    expect(files["/data/b"]?.length).toBe(ofSecond[0]?.torn?.bytesKept);
  });

  it("has nothing to tear in a one-byte write", async () => {
    const fs = await withFiles("x");
    await append(fs, "x", "1");
    expect(fs.crashImages({ models: ["torn"] })).toEqual([]);
  });
});

describe("crash images: images and options", () => {
  it("gives equal fingerprints to equal states, and tells hard links from copies", async () => {
    const linked = await withFiles("a");
    await append(linked, "a", "same");
    await linked.link("/data/a", "/data/b");
    linked.syncAll();
    const copied = await withFiles("a", "b");
    await append(copied, "a", "same");
    await append(copied, "b", "same");
    copied.syncAll();
    const [linkedImage] = linked.crashImages({ models: ["prefix"] });
    const [copiedImage] = copied.crashImages({ models: ["prefix"] });
    expect(filesOf(linkedImage as Image)).toEqual(filesOf(copiedImage as Image));
    expect(linkedImage?.fingerprint).not.toBe(copiedImage?.fingerprint);
    expect(linked.crashImages({ models: ["prefix"] })[0]?.fingerprint).toBe(
      linkedImage?.fingerprint,
    );
  });

  it("gives a fresh filesystem per createFileSystem() call", async () => {
    const fs = await withFiles("a");
    const [image] = fs.crashImages({ models: ["prefix"] });
    const first = (image as Image).createFileSystem();
    await first.unlink("/data/a");
    expect(
      (image as Image)
        .createFileSystem()
        .entries()
        .map((entry) => entry.path),
    ).toEqual(["/data", "/data/a"]);
  });

  it("rejects unknown models and bad limits naming them", async () => {
    const fs = await withFiles();
    expect(() => fs.crashImages({ models: ["later" as never] })).toThrow(/unknown model "later"/);
    expect(() => fs.crashImages({ models: [] })).toThrow(RangeError);
    expect(() => fs.crashImages({ limits: { maxSubsets: 0 } })).toThrow(/maxSubsets/);
    expect(() => fs.crashImages({ limits: { sectorSize: 1.5 } })).toThrow(/sectorSize/);
    expect(() => fs.crashImages({ limits: { randomTearsPerWrite: -1 } })).toThrow(
      /randomTearsPerWrite/,
    );
  });
});
