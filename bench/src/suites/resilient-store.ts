import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ResilientJsonStore } from "@beauvoir/resilient-store";
import writeFileAtomic from "write-file-atomic";
import { type BenchRow, compare } from "../harness.js";

interface BenchState {
  items: Array<{ id: number; name: string; tags: string[]; note: string; done: boolean }>;
}

/** About 100 KiB once serialized (checked below). */
function makeState(): BenchState {
  return {
    items: Array.from({ length: 522 }, (_, id) => ({
      id,
      name: `item-${id}`,
      tags: ["github", id % 2 ? "issue" : "pull"],
      note: `note ${id} `.repeat(5),
      done: id % 3 === 0,
    })),
  };
}

/**
 * ResilientJsonStore against write-file-atomic (fsync on) writing the same
 * bytes, and get() after warm-up against readFile + JSON.parse.
 */
export default async function resilientStoreSuite(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), "bench-store-"));
  try {
    const state = makeState();
    const path = join(dir, "ours.json");
    const peerPath = join(dir, "peer.json");
    const store = new ResilientJsonStore<BenchState>({ path });
    await store.set(state);
    // The peer writes exactly the bytes of our file (metadata included).
    const bytes = readFileSync(path);
    if (bytes.length < 95 * 1024 || bytes.length > 110 * 1024) {
      throw new Error(`bench state is ${bytes.length} bytes, expected about 100 KiB`);
    }
    await writeFileAtomic(peerPath, bytes, { fsync: true });
    const kib = Math.round(bytes.length / 1024);

    const set = await compare({
      suite: "resilient-store",
      case: `set() of a ${kib} KiB state`,
      rounds: 5,
      roundMs: 300,
      ours: { label: "ResilientJsonStore.set", op: () => store.set(state) },
      peer: {
        label: "write-file-atomic (fsync)",
        op: () => writeFileAtomic(peerPath, bytes, { fsync: true }),
      },
      // Time at most 1.5x the peer's, i.e. throughput at least 1/1.5 of it.
      target: { atLeast: 1 / 1.5 },
      note:
        "ours serializes (sorted keys) and does 3 fsyncs (tmp, directory after primary->bak, " +
        "directory after tmp->primary) and keeps a bak; the peer writes ready bytes with 1 fsync",
    });

    const warm = await compare({
      suite: "resilient-store",
      case: `get() after warm-up, ${kib} KiB`,
      ours: { label: "ResilientJsonStore.get", op: () => store.get() },
      peer: {
        label: "readFile + JSON.parse",
        op: async () => JSON.parse(await readFile(peerPath, "utf8")),
      },
      target: { atLeast: 1 },
      note: "ours parses a cached copy (no I/O); both return a fresh object",
    });

    const cold = await compare({
      suite: "resilient-store",
      case: `get() on a new instance (cold), ${kib} KiB`,
      ours: {
        label: "new ResilientJsonStore().get",
        op: () => new ResilientJsonStore<BenchState>({ path }).get(),
      },
      peer: {
        label: "readFile + JSON.parse",
        op: async () => JSON.parse(await readFile(peerPath, "utf8")),
      },
      note: "ours also reads the bak, lists tmp files and re-serializes to check the state",
    });
    return [set, warm, cold];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
